"""Faces in photographs: the image reader, offline detection, alignment, a Display.

Every image file that becomes pixels is read by :func:`read_image`;
:func:`detect_faces` finds faces and their landmarks with YuNet (a CNN shipped
inside the ``yuface`` wheel) or OpenCV's Haar cascades (shipped inside the
``opencv-python-headless`` 4.x wheel), so nothing is downloaded;
:class:`FaceAligner` turns photographs into FER2013-framed 48x48 faces inside a
scikit-learn pipeline (one per photograph), :func:`extract_faces` every face
of every photograph; :func:`predict_images` gives the emotion of every face of
every photograph as one table; :class:`FaceDisplay` draws a photograph with its
faces, labels and probabilities.
"""

from ._align import FER2013_FRAMING, FER2013_LANDMARKS, FaceAligner, crop_face, extract_faces
from ._detect import DETECTORS, LANDMARKS, detect_faces, resolve_detector
from ._display import FaceDisplay
from ._haar import CASCADES
from ._io import read_image
from ._predict import predict_images

__all__ = ["read_image", "detect_faces", "extract_faces", "predict_images", "FaceAligner",
           "crop_face", "resolve_detector",
           "DETECTORS", "LANDMARKS", "FER2013_LANDMARKS", "FER2013_FRAMING", "CASCADES",
           "FaceDisplay"]
