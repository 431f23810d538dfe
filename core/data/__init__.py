"""The data layer: IDX files, datasets, splits and scalings, drawing and photo preprocessing."""
