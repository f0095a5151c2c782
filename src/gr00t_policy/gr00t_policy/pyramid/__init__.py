"""The data pyramid's lower levels: learning from video that has no robot actions.

GR00T N1 co-trains on web data and human video (given *latent actions* learned from the
video, as in LAPA, arXiv 2410.11758) and on generated video pseudo-labelled by an
inverse-dynamics model, beneath a narrow top of real demonstrations. Here:

- :mod:`~gr00t_policy.pyramid.clips`: low-resolution frames of a LeRobot dataset's camera,
  and frame pairs ``(o_t, o_{t+k})`` drawn from them;
- :mod:`~gr00t_policy.pyramid.latent_actions`: a latent action model (an inverse-dynamics
  encoder of a frame pair, vector-quantized, trained so that a forward model predicts the
  later frame from the earlier one and the code);
- :mod:`~gr00t_policy.pyramid.inverse_dynamics`: an inverse-dynamics model trained on
  labelled episodes that predicts a frame pair's state and action, to pseudo-label video;
- :mod:`~gr00t_policy.pyramid.cli`: ``gr00t-pyramid`` trains both and labels datasets.

No ROS here, like the rest of gr00t_policy.
"""
