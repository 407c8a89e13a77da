# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
# Each creates .venv when missing, installs cunet with its test extras once (a stamp file
# makes a second call install nothing), makes sure ffmpeg/ffprobe exist, then runs.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.cunet-installed
PYTEST_ARGS ?=
# The tensorflow-io extra pins TensorFlow 2.17.1, so its tests run in a venv of their own.
TFIO_VENV := .venv-tfio
TFIO_STAMP := $(TFIO_VENV)/.cunet-installed

.PHONY: demo test test-tfio install ffmpeg synth-packages browser clean lint

install: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): setup.cfg pyproject.toml | $(BIN)/python
	$(MAKE) --no-print-directory ffmpeg synth-packages
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,synth]'
	touch $(STAMP)

# MUSDB18 .stem.mp4 (musdb -> stempeg) and mp3/m4a input need both ffmpeg and ffprobe.
ffmpeg:
	@if command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing ffmpeg (Debian package)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null; \
	else \
		echo "cunet needs ffmpeg and ffprobe: run 'sudo apt-get install ffmpeg' (or 'brew install ffmpeg'), then make again"; \
		exit 1; \
	fi

# Debian packages installed when missing and possible (root and apt-get), else one line saying
# what to run; never fatal: the tests that need them skip and say why.
#   synth-packages: FluidSynth and three General MIDI SoundFonts, espeak-ng (`cunet synth`)
#   browser: Chromium and ChromeDriver (the browser test of `cunet serve`; `make test` only)
SYNTH_PACKAGES := fluidsynth libfluidsynth3 fluid-soundfont-gm musescore-general-soundfont timgm6mb-soundfont espeak-ng
BROWSER_PACKAGES := chromium chromium-driver
synth-packages:
	@$(call apt_install,$(SYNTH_PACKAGES))
browser:
	@$(call apt_install,$(BROWSER_PACKAGES))

define apt_install
missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
if [ -z "$$missing" ]; then :; \
elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	echo "installing$$missing (Debian packages)"; \
	(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) || echo "could not install$$missing: the tests that need them are skipped"; \
else \
	echo "optional:$$missing missing: 'sudo apt-get install$$missing' (tests that need them are skipped)"; \
fi
endef

# The demo runs the mask network on LiteRT when the model has its .tflite (the embedded one
# does) and ai-edge-litert imports: no TensorFlow import, a quick start (`--runtime auto`).
demo: $(STAMP)
	$(BIN)/cunet demo

test: $(STAMP)
	@$(MAKE) --no-print-directory browser
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)
	@if [ "$$CI" = true ] || [ "$$CUNET_TEST_TFIO" = 1 ]; then $(MAKE) --no-print-directory test-tfio; fi

# pip install '.[tfio]' in .venv-tfio; the audio-backend tests compare both backends there.
test-tfio: $(TFIO_STAMP)
	$(TFIO_VENV)/bin/python -m pytest -q -p no:cacheprovider tests/audio/test_audio_tfio.py

$(TFIO_STAMP): setup.cfg pyproject.toml | $(STAMP)
	test -x $(TFIO_VENV)/bin/python || $(PYTHON) -m venv $(TFIO_VENV)
	$(TFIO_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(TFIO_VENV)/bin/python -m pip install --quiet -e '.[tfio]' 'pytest>=8,<10'
	touch $(TFIO_STAMP)

# ruff (configured in pyproject.toml): lint rules, then the formatter in check mode (changes nothing)
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) $(TFIO_VENV) build dist *.egg-info .pytest_cache
