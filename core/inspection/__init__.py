"""Looking inside a prediction: saliency (why this digit) and not-a-digit detection."""
