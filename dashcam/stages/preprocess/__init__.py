"""The preprocess stage: ``analysis`` finds the moments worth the heavy stage (pure); ``record`` stores its
manifest and the stage row."""
