from .loader import DataFileError, load_scenario, scenario_samples
from .schema import CONDITIONS, Scenario

__all__ = ["CONDITIONS", "DataFileError", "Scenario", "load_scenario", "scenario_samples"]
