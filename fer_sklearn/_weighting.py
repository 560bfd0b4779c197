"""Sample weights, class weights and class distributions in the training loss.

scikit-learn's meaning of a sample weight is a frequency: weight 0 is the
sample removed, an integer weight ``k`` is the sample repeated ``k`` times.
The estimators hold to it in three places:

* the loss of a batch ``B`` is ``sum_{i in B} w_i l_i / (|B| * mean(w))``,
  where ``w_i`` is the sample's weight times its class weight and
  ``mean(w)`` is taken over the whole training set (the validation set for
  the validation loss). Over an epoch, or for a full batch, that is
  ``sum_i w_i l_i / sum_i w_i``: the mean loss of the data with each sample
  repeated ``w_i`` times, exactly. Per batch it is an unbiased estimate of
  that full-data loss, as a batch of the repeated data is, with the same
  scale; a per-batch ``sum w l / sum w`` would weigh each sample by its
  batch-mates' weights;
* the batch norms weigh each sample in their batch statistics
  (:func:`~fer_sklearn._modules.weighted_batch_norm`);
* ``fit`` removes zero-weight samples before anything else, and learns
  the input scaling as weighted mean and standard deviation.

What is not exact for mini-batches is the stochastic part: a repeated
sample can land in several batches of one epoch (and get several dropout
masks and augmentations), a weighted one in one.
"""

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from skorch.callbacks import EpochScoring
from skorch.utils import to_numpy

from ._modules import average_probability_logits
from ._precision import AutocastNeuralNetClassifier


def softmax(logits):
    """Class probabilities from logits: the skorch net's ``predict_nonlinearity``.

    skorch infers a softmax only for its own ``CrossEntropyLoss`` criterion.
    """
    return torch.softmax(logits, dim=-1)


def batch_labels(y):
    """The class indices of a batch's ``y``: ``y`` itself, or its ``"label"`` entry.

    The ``target_extractor`` of the accuracy scorings of
    :class:`WeightedNeuralNetClassifier`.
    """
    return to_numpy(y["label"] if isinstance(y, Mapping) else y)


class WeightedCrossEntropy(torch.nn.Module):
    """Cross-entropy against labels or class distributions, with class and sample weights.

    A sample with class distribution ``p`` (one-hot for a label), class
    weights ``c`` and label smoothing ``eps`` over ``K`` classes has the loss
    ``-sum_k t_k log q_k``, ``q`` the predicted probabilities and
    ``t = (1 - eps) c * p + (eps / K) (c . p)``. That is the mean, over the
    classes ``k`` drawn from ``p``, of the label-smoothed cross-entropy of
    the hard label ``k`` times its class weight ``c_k``: a distribution is
    its labels with weights ``p_k``, and a class weight scales a label's
    whole loss, as it scales the sample weight in scikit-learn. (torch's
    ``CrossEntropyLoss(weight=c, label_smoothing=eps)`` instead weighs the
    smoothing term of each class ``j`` by ``c_j``.)

    Parameters
    ----------
    weight : tensor of shape (n_classes,) or None, default=None
        Class weights; None weighs all classes 1.
    label_smoothing : float, default=0.0
    """

    def __init__(self, weight=None, label_smoothing=0.0):
        super().__init__()
        self.register_buffer("weight", weight)
        self.label_smoothing = label_smoothing

    def class_mass(self, target):
        """``c . p`` per sample: its class weight, or its distribution's mean class weight.

        Parameters
        ----------
        target : int tensor of shape (n,) or float tensor of shape (n, n_classes)
            Class indices, or class distributions (rows summing to 1).

        Returns
        -------
        mass : float tensor of shape (n,)
            All ones without class weights.
        """
        if self.weight is None:
            return torch.ones(len(target), device=target.device)
        if target.ndim == 1:
            return self.weight[target]
        return (target * self.weight).sum(dim=1)

    def forward(self, logits, target, sample_weight=None):
        """The batch loss ``sum_i w_i l_i / n``.

        Parameters
        ----------
        logits : tensor of shape (n, n_classes)
        target : int tensor of shape (n,) or float tensor of shape (n, n_classes)
            Class indices, or class distributions (rows summing to 1).
        sample_weight : tensor of shape (n,) or None, default=None
            ``w_i``; None weighs every sample 1.

        Returns
        -------
        loss : scalar tensor
        """
        n_classes = logits.shape[1]
        proba = (F.one_hot(target, n_classes) if target.ndim == 1 else target).to(logits.dtype)
        mass = proba if self.weight is None else proba * self.weight
        eps = self.label_smoothing
        class_mass = self.class_mass(target).to(logits.dtype)
        smoothed = (1 - eps) * mass + (eps / n_classes) * class_mass[:, None]
        losses = -(smoothed * F.log_softmax(logits, dim=1)).sum(dim=1)
        if sample_weight is not None:
            losses = losses * sample_weight
        return losses.mean()


class WeightedNeuralNetClassifier(AutocastNeuralNetClassifier):
    """A skorch classifier for :class:`WeightedCrossEntropy` with weighted batch norms.

    A batch's ``y`` is either the class indices, or a dict of the class
    indices (``"label"``), the sample weights (``"weight"``) and, for
    training on class distributions, the distributions (``"proba"``). The
    loss is the criterion's divided by the mean weight of the training or
    validation samples (``mean_weights``), so that a batch's loss is
    ``sum_{i in B} w_i l_i / (|B| * mean(w))``. In training, a batch whose
    weights (sample weight times class weight) are not all 1 goes through
    the module as ``module(X, sample_weight=w)``, which weighs the samples
    in the batch-norm statistics.

    Parameters
    ----------
    module : torch.nn.Module
        Its ``forward`` takes ``sample_weight``.
    *args, **kwargs
        As for :class:`~fer_sklearn._precision.AutocastNeuralNetClassifier`;
        ``criterion`` is a :class:`WeightedCrossEntropy`.
    mean_weights : tuple of float, default=(1.0, 1.0)
        Mean of sample weight times class weight over the training samples
        and over the validation samples.
    predict_nonlinearity : callable, default=softmax
        Turns the logits into the probabilities of ``predict_proba``.
    """

    def __init__(self, module, *args, mean_weights=(1.0, 1.0), predict_nonlinearity=softmax,
                 **kwargs):
        super().__init__(module, *args, predict_nonlinearity=predict_nonlinearity, **kwargs)
        self.mean_weights = mean_weights

    @property
    def _default_callbacks(self):
        return [
            (name, EpochScoring("accuracy", name="valid_acc", lower_is_better=False,
                                target_extractor=batch_labels))
            if name == "valid_acc" else (name, callback)
            for name, callback in super()._default_callbacks
        ]

    def check_data(self, X, y):
        # NeuralNetClassifier infers classes from np.unique(y), which a dict
        # y breaks; the estimators always pass ``classes``.
        pass

    def _targets(self, y):
        """``(target, sample_weight)`` of a batch's ``y``, on the net's device."""
        if isinstance(y, Mapping):
            target, weight = y.get("proba", y["label"]), y["weight"].to(self.device)
        else:
            target, weight = y, None
        return target.to(self.device), weight

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """The batch loss; for an ensemble in training, the sum of its members' losses.

        ``y_pred`` of shape ``(n_members, n, n_classes)`` comes from a
        :class:`~fer_sklearn._modules.MemberAverage` in training mode: the sum
        gives each member exactly the gradient of its own loss, as if it were
        trained alone.
        """
        target, weight = self._targets(y_true)
        members = y_pred if y_pred.ndim == 3 else y_pred[None]
        loss = sum(self.criterion_(logits, target, weight) for logits in members)
        return loss / self.mean_weights[0 if training else 1]

    def train_step_single(self, batch, **fit_params):
        target, weight = self._targets(batch[1])
        effective = self.criterion_.class_mass(target)
        if weight is not None:
            effective = effective * weight
        # Equal weights of 1 are the plain (and faster) batch norm.
        if not torch.all(effective == 1):
            fit_params = {**fit_params, "sample_weight": effective}
        step = super().train_step_single(batch, **fit_params)
        y_pred = step["y_pred"]
        if y_pred.ndim == 3:
            # An ensemble's step is recorded as one network's: train_loss is its
            # members' mean loss, and train_acc scores their averaged probabilities.
            step = {"loss": step["loss"] / len(y_pred),
                    "y_pred": average_probability_logits(y_pred.detach())}
        return step
