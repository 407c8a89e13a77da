"""`cunet demo`: what `make demo` runs."""

HELP = "run the demo: build the default model and print its summary"


def add_arguments(parser) -> None:
    parser.add_argument("--out-dir", default="demo-output", help="where the demo writes its files")


def run(args) -> int:
    from cunet.commands.info import format_info
    from cunet.config import DEFAULT_CONFIG, load_config
    from cunet.model_info import model_info
    from cunet.models import build_model

    config = load_config(DEFAULT_CONFIG)
    print(format_info(model_info(build_model(config, compile=False)), config))
    return 0
