"""Vehicle profiles and enrollment: each vehicle's normal traffic, and where it is learnt from."""

from canguard.profiles.profile import VehicleProfile, fit_profile

__all__ = ["VehicleProfile", "fit_profile"]
