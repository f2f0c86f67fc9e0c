"""One small module per task; each builds its dataset, solver and scorer and validates -T args."""
