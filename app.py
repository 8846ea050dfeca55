"""Entry point: ``python app.py`` serves; gunicorn and ``flask --app app`` import ``app``."""
from bot import create_app

app = create_app()

if __name__ == "__main__":
    from bot.devserver import run

    run(app)
