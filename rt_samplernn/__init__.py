"""rt-samplernn: SampleRNN from training to the stage."""

__version__ = "0.1.0"
