"""The built-in TinyStories-style story generator (`slm data synth`): no model, deterministic by seed.

Example:
    from slmkit.data.synth import generate_stories
    for story in generate_stories(3, seed=0): print(story.text)
"""

from slmkit.data.synth.diversity import diversity_stats
from slmkit.data.synth.stage import SynthConfig, synth_stage
from slmkit.data.synth.story import FEATURES, Story, generate_stories, generate_story, story_rng

__all__ = ["FEATURES", "Story", "SynthConfig", "diversity_stats", "generate_stories", "generate_story",
           "story_rng", "synth_stage"]
