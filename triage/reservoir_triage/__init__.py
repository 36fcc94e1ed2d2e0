"""Crash triage for Reservoir: parse crash logs into records, give each a
stable signature, remember findings across runs, reproduce, minimise,
report and turn crashes into regression cases."""
