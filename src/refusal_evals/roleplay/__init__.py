"""Role-play evaluations (car_sales, real_estate, ...): one task factory, solver and scorer for every
scenario file in ``scenarios/``."""
