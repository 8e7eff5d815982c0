"""Plain ``nn.Module`` models: backbones, alignment ops, decoders, the segmentor and the zoo."""
