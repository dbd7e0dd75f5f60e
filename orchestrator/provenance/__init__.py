"""How each image was made, signed: SLSA v1 provenance in in-toto statements and DSSE
envelopes (:mod:`.statement`, :mod:`.envelope`, :mod:`.keys`), written by the executor
(:mod:`.collect`) and checked by ``orchestrate provenance verify`` (:mod:`.check`,
:mod:`.lookup`)."""
