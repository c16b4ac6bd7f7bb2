"""What the micro Table 1 networks' frozen features encode: the digit and the nuisance factors.

For every pre-training point of chapter 2's Table 1 (six tasks x two networks) and each network
from random initialisation, probes the frozen features (the linear probe's, from the feature
cache) for the digit class and for the default data's nuisance factors: the background pattern
(5 kinds), the hue of the background and of the digit (6 bins each) and the heading of the
digit's motion (8 bins); see ``sslvid.evaluate.readout``. Runs whatever is missing into the
given data folder (``SSLVID_HOME``), so on the book's data folder it only reads.

    python benchmarks/feature_readout.py [--profile micro]

Measured (2026-12-07, the book's micro stores from a clean build, seed 0; per-video mean features,
logistic regression, 1,000 training and 500 test videos of digits-appearance; test accuracy %):

    model                 class  background  background hue  digit hue  heading
    chance (most common)   10.0        22.2            20.4       26.2     14.0
    r2plus1d_18 scratch    20.0        21.4            56.2       40.4     16.0
    r2plus1d_18 rotnet     32.4        21.2            40.4       35.6     18.2
    r2plus1d_18 prp        31.0        23.8            35.4       38.4     16.8
    r2plus1d_18 rspnet     23.8        23.2            24.8       50.8     17.8
    r2plus1d_18 cvrl       19.0        21.0            37.2       40.8     13.6
    r2plus1d_18 tdl        16.2        21.4            26.0       43.0     15.6
    r2plus1d_18 vcop       14.2        24.4            28.8       33.6     14.2
    shufflenet3d scratch   23.6        24.4            41.8       53.2     17.8
    shufflenet3d rotnet    12.0        19.8            35.6       39.4     14.4
    shufflenet3d prp       15.6        19.6            23.8       41.4     14.0
    shufflenet3d rspnet    16.8        22.6            25.4       31.6     12.8
    shufflenet3d cvrl      13.6        23.2            25.4       33.2     11.6
    shufflenet3d tdl       16.8        21.4            27.2       38.6     14.8
    shufflenet3d vcop      16.6        23.6            20.2       45.4     12.6

Reading: randomly initialised features carry colour (the background's hue 56% on R(2+1)D against
20% chance) and some of the digit (20%). Pre-training removes colour (the contrastive tasks'
background hue falls to 25-37%, RSPNet's and TDL's to chance, as their colour augmentation
asks) but, where a task loses to random initialisation, without putting the digit in its place.
No network reads the background's pattern linearly (21-24% against 22%), random initialisation
included, so these probes cannot tell whether a network uses it; and none reads the heading of
the motion (12-18% against 14%). So the contrastive tasks did not learn a colour shortcut: at 4
epochs they lost what random features knew and did not yet learn the digit. (The class column is
a probe of per-video mean features, within about 2 points of the book's clip-level probe.)
"""

from __future__ import annotations

import argparse

import pandas as pd

from sslvid.evaluate.readout import feature_readout
from sslvid.experiments.preliminaries import BACKBONES, table1_points
from sslvid.experiments.study import Study


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="micro")
    args = parser.parse_args()
    study = Study(profile=args.profile, protocol="linear", progress=False)
    models = [(f"{b} scratch", study.eval_config(None, protocol="linear", backbone=b)) for b in BACKBONES]
    for point in table1_points(study):
        study.pretrain(point)
        models.append((f"{point['backbone']} {point['task']}", study.eval_config(point, protocol="linear")))
    rows = []
    for name, config in models:
        table = feature_readout(config, study.store, study.features).assign(model=name)
        rows.append(table)
        print(name, " ".join(f"{r.factor}={100 * r.accuracy:.1f}" for r in table.itertuples()), flush=True)
    frame = pd.concat(rows)
    wide = frame.pivot(index="model", columns="factor", values="accuracy").mul(100).round(1)
    chance = frame.groupby("factor")["chance"].first().mul(100).round(1)
    print(wide.to_string())
    print("chance:", chance.to_dict())


if __name__ == "__main__":
    main()
