"""The unified code set: code systems, concept maps, unit normalisation, mapping suggestions."""
