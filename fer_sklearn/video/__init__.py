"""Emotions over time in video: lazy decoding, face tracks, a timeline Display.

:func:`predict_video` reads a clip (a video file, an animated image or any
iterable of frames) one frame at a time, detects and tracks the faces,
classifies them in batches and returns one row per face and frame;
:func:`track_summary` gives each track's share of time in each emotion;
:class:`EmotionTimelineDisplay` draws the probabilities over time, and
:func:`annotate_video` writes the clip with boxes and labels drawn.
"""

from ._annotate import annotate_video
from ._display import EmotionTimelineDisplay
from ._predict import VIDEO_DETECTOR, predict_video, track_summary
from ._read import VIDEO_SUFFIXES

__all__ = ["predict_video", "track_summary", "EmotionTimelineDisplay", "annotate_video",
           "VIDEO_SUFFIXES", "VIDEO_DETECTOR"]
