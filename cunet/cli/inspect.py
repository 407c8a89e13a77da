"""`cunet inspect`: the FiLM γ and β a C-U-Net's control network gives each instrument."""

HELP = "tabulate and plot the FiLM gamma/beta of each instrument condition of a C-U-Net"


def add_arguments(parser) -> None:
    from cunet.cli import options

    options.add_model(parser, help="a saved C-U-Net model (.keras)", required=True)
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for film.csv and the plots")


def run(args) -> int:
    from pathlib import Path

    from cunet.errors import CunetError
    from cunet.model.files import load_model
    from cunet.model.film_analysis import film_parameters, film_summary, write_film_report

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise CunetError(f"--out {out} exists and is not a folder")
    model, config = load_model(args.model)
    params = film_parameters(model, config)
    paths = write_film_report(params, out)
    print(film_summary(params))
    print(
        f"γ/β table: {paths['csv']}; plots: {paths['gamma'].name}, {paths['beta'].name}, "
        f"{paths['histogram'].name} in {out}"
    )
    return 0
