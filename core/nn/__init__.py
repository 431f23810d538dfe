"""Networks: configuration, architecture arithmetic, Keras models, training, evaluation."""
