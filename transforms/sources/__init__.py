"""Source profiles and the readers they drive."""
