"""Plotly figure builders: plain arrays in, `plotly.graph_objects.Figure` out."""
