"""Looking inside a prediction: saliency (why this digit) and not-a-digit detection."""

from core.inspection.saliency import Saliency, occlusion_saliency

__all__ = ["Saliency", "occlusion_saliency"]
