"""Rule vehicle_profile: a training vehicle's profile, fitted as a test vehicle is enrolled (the benign
messages of the first enrollment.seconds of each of its training recordings)."""

from canguard.stages.enroll import fit_enrollment


def run_vehicle_profile(inputs, outputs, params, wildcards) -> None:
    fit_enrollment(params["plan"], inputs["recordings"], params["size"], outputs["profile"])
