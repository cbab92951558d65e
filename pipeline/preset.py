"""preset: a preset file (configs/*.yaml) as `dvc exp run` overrides, or written into params.yaml.

    dvc exp run $(python -m pipeline.preset configs/paper.yaml)    # an experiment with the preset
    python -m pipeline.preset configs/paper.yaml --write            # set its values in params.yaml
"""
import argparse

from pipeline.stage import run
from pyext.presets import overrides, read_preset, write_preset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("preset", help="a preset file, e.g. configs/paper.yaml")
    parser.add_argument("--params", default="params.yaml", help="the params file (default: params.yaml)")
    parser.add_argument("--write", action="store_true", help="set the preset's values in the params file, "
                                                             "keeping its comments, instead of printing overrides")
    args = parser.parse_args()
    preset = read_preset(args.preset, args.params)
    if args.write:
        write_preset(preset, args.params)
        print(f"preset: {args.preset} written into {args.params}")
    else:
        print(" ".join(f"-S {o}" for o in overrides(preset)))


if __name__ == "__main__":
    run("preset", main)
