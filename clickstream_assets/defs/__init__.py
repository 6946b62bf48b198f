"""Definitions by stage of the data path, named as in the data plane (`streaming/`): each
folder holds the assets, checks, sensors, jobs and schedules of its stage."""
