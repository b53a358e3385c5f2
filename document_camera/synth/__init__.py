"""Ground-truth generator: synthetic documents on synthetic desks, with their true corners."""

from .backgrounds import Background, render_background
from .page import PageKind, render_page, sample_page
from .scene import MP_12, UHD_4K, Scene, SceneSpec, make_scene, sample_frame

__all__ = [
    "MP_12",
    "UHD_4K",
    "Background",
    "PageKind",
    "Scene",
    "SceneSpec",
    "make_scene",
    "render_background",
    "render_page",
    "sample_frame",
    "sample_page",
]
