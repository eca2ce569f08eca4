"""The heavy stage: ``analysis`` tracks vehicles and reads plates over a clip (pure); ``record`` stores its
sightings, reads and media. ``track_join``, ``sighting_join`` and ``votes`` are analysis parts; ``links`` and ``split``
work on stored sightings."""
