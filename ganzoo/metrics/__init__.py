"""Sample-quality metrics: feature extractors and FID/KID through torchmetrics."""
