"""The transformer learner and the modules only it uses: model, training, sampling, generation, fetching weights.

The learner registers from `bench.learners.transformer.learner`; torch loads only when a model is built."""
