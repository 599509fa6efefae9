"""The video recipe: probe a video, then derive its proxy, poster and keyframe map.

probe = probe_media(path)
derivatives = derive_video(path, out_dir=dir, probe=probe, options=VideoOptions())
"""

from __future__ import annotations

from tasks.video.derive import VideoDerivatives, derive_video
from tasks.video.keyframes import Cue, KeyframeMap, KeyframePlan, plan_keyframes, render_vtt
from tasks.video.probe import MediaProbe, StreamInfo, probe_media
from tasks.video.profiles import PROXY_PROFILES, ProxyName, ProxyProfile, VideoOptions
from tasks.video.renditions import Rendition

__all__ = [
    "PROXY_PROFILES",
    "Cue",
    "KeyframeMap",
    "KeyframePlan",
    "MediaProbe",
    "ProxyName",
    "ProxyProfile",
    "Rendition",
    "StreamInfo",
    "VideoDerivatives",
    "VideoOptions",
    "derive_video",
    "plan_keyframes",
    "probe_media",
    "render_vtt",
]
