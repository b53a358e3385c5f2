"""Python client of the signaling protocol, with aiortc media for headless participants."""

from .call import Call, Received
from .media import SyntheticCamera, SyntheticMicrophone
from .wire import SignalingClient, SignalingError, device_token, login

__all__ = [
    "Call",
    "Received",
    "SignalingClient",
    "SignalingError",
    "SyntheticCamera",
    "SyntheticMicrophone",
    "device_token",
    "login",
]
