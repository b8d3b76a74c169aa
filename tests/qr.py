"""Reading QR codes back in tests, as a phone's camera would (OpenCV's detector)."""

from __future__ import annotations

import cv2
import numpy as np


def decode_qr(png: bytes) -> str:
    """Give the text of the QR code in a PNG ('' when none is found)."""
    image = cv2.imdecode(np.frombuffer(png, dtype=np.uint8), cv2.IMREAD_COLOR)
    # A wide quiet zone, as a code has on a page, helps the detector find the finder patterns.
    image = cv2.copyMakeBorder(image, 40, 40, 40, 40, cv2.BORDER_CONSTANT, value=(255, 255, 255))
    text, _points, _straight = cv2.QRCodeDetector().detectAndDecode(image)
    return str(text)
