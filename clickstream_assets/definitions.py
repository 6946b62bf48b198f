"""The code location: merges each stage's definitions (`defs/<stage>/definitions.py`) and
applies the global policies; it lists no asset, job, sensor or schedule itself.

Resources come from the environment (`CLICKSTREAM_MODE` and friends), so the same
definitions run embedded and on AWS.
"""

from __future__ import annotations

import warnings

from dagster import AssetSpec, BetaWarning, Definitions, PreviewWarning

from clickstream_assets.constants import OWNER
from clickstream_assets.defs.lake import definitions as lake
from clickstream_assets.defs.lakesql import definitions as lakesql
from clickstream_assets.defs.reports import definitions as reports
from clickstream_assets.defs.stream import definitions as stream
from clickstream_assets.resources import build_resources

warnings.filterwarnings("ignore", category=BetaWarning)
warnings.filterwarnings("ignore", category=PreviewWarning)

PRODUCT_TAGS = {"product": "clickstream-lakehouse"}


def with_global_policies(spec: AssetSpec) -> AssetSpec:
    """Every asset is tagged with the product and has an owner, whoever wrote it."""
    return spec.replace_attributes(tags={**spec.tags, **PRODUCT_TAGS},
                                   owners=spec.owners or [OWNER])


def build_definitions() -> Definitions:
    stages = Definitions.merge(stream.defs, lake.defs, lakesql.defs, reports.defs,
                               Definitions(resources=build_resources()))
    return stages.map_asset_specs(func=with_global_policies)


defs = build_definitions()
