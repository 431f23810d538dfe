"""MNIST Studio's core library: data, models, training, evaluation and storage.

Plain Python with no Streamlit import, so every part can be tested, benchmarked and used
from a notebook.
"""
