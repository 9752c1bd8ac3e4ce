"""Snakemake adapter: write one synthetic recording (canguard.simulate)."""

from canguard.logs import setup_logging
from canguard.simulate import SyntheticSpec, plan_recordings, write_recording

log = setup_logging(snakemake.log[0])
spec = SyntheticSpec.from_config(snakemake.params.spec)
wanted = (snakemake.wildcards.split, snakemake.wildcards.recording)
plan = next(p for p in plan_recordings(spec) if (p.split, p.name) == wanted)
write_recording(plan, spec, snakemake.output.csv)
log.info("wrote %s", snakemake.output.csv)
