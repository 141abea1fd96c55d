"""A tiny randomly initialized BERT in the Hugging Face layout, written to a directory: the
stand-in for all-MiniLM-L6-v2 in the tests (config.json, model.safetensors, tokenizer.json)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

CONFIG = {"model_type": "bert", "architectures": ["BertModel"], "hidden_act": "gelu",
          "hidden_size": 32, "num_attention_heads": 4, "num_hidden_layers": 2,
          "intermediate_size": 64, "max_position_embeddings": 64, "type_vocab_size": 2,
          "layer_norm_eps": 1e-12}

WORDS = ("the cat sat on a warm mat dog ran to park rain falls over hills train leaves at "
         "seven fresh bread is baked every morning quantization maps real numbers integers "
         "field programmable gate array can be reconfigured matrix multiplication").split()
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *dict.fromkeys(WORDS), ".", ",", "-",
         "##s", "##ed", "##ing"]


def write_tokenizer(path: Path) -> None:
    """A WordPiece tokenizer with BERT's normalizer, pre-tokenizer and [CLS] … [SEP]."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    vocab = {t: i for i, t in enumerate(VOCAB)}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", vocab["[CLS]"]),
                                                 ("[SEP]", vocab["[SEP]"])])
    tok.decoder = decoders.WordPiece()
    tok.save(str(path))


def write_tiny_bert(directory: Path, seed: int = 0) -> Path:
    """Write the model to ``directory`` and return it."""
    from safetensors.numpy import save_file

    from lowbit.models.bert import BertConfig

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    config = {**CONFIG, "vocab_size": len(VOCAB)}
    (directory / "config.json").write_text(json.dumps(config, indent=2))
    rng = np.random.default_rng(seed)
    tensors = {}
    for name, shape in BertConfig.from_dict(config).tensors().items():
        if name.endswith("LayerNorm.weight"):
            t = 1.0 + 0.1 * rng.standard_normal(shape)
        elif name.endswith("bias"):
            t = 0.02 * rng.standard_normal(shape)
        else:
            t = 0.2 * rng.standard_normal(shape)
        tensors[name] = t.astype(np.float32)
    save_file(tensors, str(directory / "model.safetensors"))
    write_tokenizer(directory / "tokenizer.json")
    return directory
