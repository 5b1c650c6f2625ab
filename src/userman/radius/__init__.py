"""radius."""
