"""Mobile edge generation (MEG, paper mobile-edge-generation.md), the agents' side:

    protocols        who computes and sends what in each of the 11 protocols
    wire             the self-describing payloads of their messages
    feature_channel  the AWGN the receiver adds to the decoded feature values
    strips           split / merge of the cooperative protocols, pick among K replies
    agent            the ops one node's agent (role "meg") runs on its part of the split model

Task: text-guided image-to-image generation (the paper's case study, SDEdit with our split
latent diffusion model): the UE's image is VAE-encoded (its *latent*, the paper's "seed"),
noised to step k of the DDIM schedule, denoised over [k, N) conditioned on the prompt, and
decoded.

Every protocol is three stages, UE -> ES(s) -> UE (see PROTOCOLS):
    ue_pre   ops at the UE on its image, then one message to each ES used (uplink)
    es_ops   ops at each ES on what arrived, then one message back (downlink)
    ue_post  ops at the UE on the replies; "pick" / "merge" combines the K replies (the ops
             before it run on every reply, the ops after it on the combined value)
"""
