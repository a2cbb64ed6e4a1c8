"""Writes the umT5 text-encoder golden fixtures (tests/fixtures/t5/) with the official Wan code and transformers.

Tokenizer: google/umt5-xxl cannot be downloaded here, so a small SentencePiece unigram model with umT5's
settings (pad 0, eos 1, unk 2, no bos, byte_fallback) is trained on a built-in English/Chinese/emoji corpus
and committed as spiece.model. The reference ids come from the official HuggingfaceTokenizer
(wan/modules/tokenizers.py: clean='whitespace', padding='max_length', truncation, max_length 512) over
transformers' tokenizer built from that spiece.model (the converted, tokenizers-backed T5 tokenizer, as
AutoTokenizer gives for google/umt5-xxl), with the real ftfy.fix_text in Wan's cleaning (ftfy 6.3). The
prompts avoid what x2v does not reproduce of ftfy: mojibake repair and NFC normalization (the tokenizer's
NFKC makes the latter moot for the ids). SentencePiece's own ids are recorded beside them: they
differ where a character is outside the vocabulary (SentencePiece spells its UTF-8 bytes, transformers'
conversion has no byte fallback and gives one <unk> per run).

Encoder: the official T5Encoder (wan/modules/t5.py) at a small config with seeded random weights rounded
to bf16, saved with the Wan names as a torch.save .pth (the real format) and with transformers'
UMT5EncoderModel names as a diffusers-style text_encoder/ folder. transformers' UMT5EncoderModel is loaded
from that folder and must agree with the official model, which checks the name mapping independently of
x2v. Outputs are the official model run in float32 (and in bfloat16, for scale) on tokenizer ids with the
padding mask, cut to each prompt's length.

Dev only:  pip install torch transformers sentencepiece protobuf safetensors regex numpy ftfy==6.3.1
           python3 tools/reference/make_t5_fixtures.py --wan-repo PATH_TO_Wan2.1_CHECKOUT
"""
import argparse
import html
import importlib.util
import io
import json
import pathlib
import random
import sys
import tempfile
import types

import sentencepiece as spm
import torch
from safetensors.torch import save_file

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "fixtures" / "t5"

SMALL = dict(dim=64, dim_attn=64, dim_ffn=128, num_heads=4, num_layers=2, num_buckets=32)
TEXT_LEN = 512
SPM_VOCAB = 1000

ENGLISH = ("the a an cat dog bird fish horse girl boy man woman child people crowd camera video shot scene light "
           "runs walks jumps flies swims dances sings smiles looks turns moves slowly quickly gently across over "
           "under through along beside behind toward beautiful bright dark colorful quiet busy old young small "
           "large golden sunset sunrise ocean waves beach mountain river forest city street night rain snow "
           "winter summer spring autumn sky cloud garden flowers painting style cinematic close-up wide angle "
           "high quality detailed realistic soft warm cold blue red green white black yellow and with in on at "
           "of to from is are its it's this that 1 2 3 4 5 10 24 100 2024 4k hd fps").split()
CHINESE = ("一只 猫 狗 鸟 在 草地 上 奔跑 跳舞 飞翔 镜头 缓慢 移动 美丽 的 日落 日出 海浪 海滩 城市 夜景 灯光 下雨 下雪 "
           "街道 行人 汽车 森林 河流 天空 白云 冬天 夏天 女孩 男孩 音乐 色彩 鲜艳 花园 电影 风格 特写 高质量 细节 "
           "真实 过曝 静态 模糊 字幕 画面 背景 人物 手指 脸部 温暖 明亮 安静").split()
PUNCTUATION = ["，", "。", "、", "！", "？", "：", ".", ",", "!", "?", "-", "'", '"', "(", ")", "&", "<", ">", ";", "#"]
EMOJI = ["🐱", "🐶", "🌅", "🌊", "🚗", "🎵", "🌸", "😀", "✨"]


def corpus(lines: int = 4000) -> list:
    """Deterministic training sentences: English, Chinese, a little of both with emoji and punctuation."""
    rng = random.Random(2025)
    result = []
    for _ in range(lines):
        kind = rng.random()
        if kind < 0.5:
            words = [rng.choice(ENGLISH) for _ in range(rng.randint(5, 16))]
            result.append(" ".join(words).capitalize() + rng.choice([".", "!", ",", "?"]))
        elif kind < 0.85:
            parts = [rng.choice(CHINESE) for _ in range(rng.randint(4, 12))]
            result.append("".join(parts) + rng.choice(["。", "，", "！"]))
        else:
            words = [rng.choice(ENGLISH + CHINESE + EMOJI + PUNCTUATION) for _ in range(rng.randint(4, 10))]
            result.append(" ".join(words))
    return result


def train_tokenizer(directory: pathlib.Path) -> pathlib.Path:
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus()), model_writer=model, model_type="unigram", vocab_size=SPM_VOCAB,
        pad_id=0, eos_id=1, unk_id=2, bos_id=-1, byte_fallback=True, character_coverage=1.0,
        hard_vocab_limit=False, num_threads=1, minloglevel=2)
    path = directory / "spiece.model"
    path.write_bytes(model.getvalue())
    return path


def load_official(wan_repo: pathlib.Path):
    """Imports wan.modules.tokenizers and wan.modules.t5 without running wan/__init__.py."""
    # t5.py evaluates torch.cuda.current_device() as a default argument at import; no GPU here.
    torch.cuda.current_device = lambda: "cpu"
    for name, sub in [("wan", ""), ("wan.modules", "modules")]:
        package = types.ModuleType(name)
        package.__path__ = [str(wan_repo / "wan" / sub)]
        sys.modules[name] = package

    def load(name, relative):
        spec = importlib.util.spec_from_file_location(name, wan_repo / relative)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module

    tokenizers = load("wan.modules.tokenizers", "wan/modules/tokenizers.py")
    t5 = load("wan.modules.t5", "wan/modules/t5.py")
    return tokenizers, t5


def shots(count: int) -> str:
    return " ".join(f"Shot {i}: a golden retriever runs along the beach at sunset, waves roll in slowly, "
                    "一只猫在草地上奔跑。" for i in range(count))


MEDIUM_PROMPT = shots(5)  # past T5's max_distance (128): the logarithmic buckets saturate
LONG_PROMPT = shots(40)   # past 512 tokens: truncated to 511 and EOS

# Prompts whose ids the C++ tokenizer must reproduce.
PROMPTS = [
    "A cat runs across the garden at sunset, cinematic shot.",
    "一只猫在草地上奔跑，镜头缓慢移动。美丽的日落！",
    "A dog 🐶 and a cat 🐱 dancing 🎵 under the sky ✨ ❤️ 🦙",
    "Tom &amp; Jerry &lt;3 it&#39;s &nbsp;here &amp;amp; there &amp;lt;b&amp;gt; &quot;quoted&quot; &apos;",
    "  tabs\tand\n\nnewlines\r\n  and   runs   of    spaces\u3000ideographic\u00a0nbsp\u2003em  ",
    "Café naïve résumé ﬁ ligature ｆｕｌｌｗｉｄｔｈ ①②③ – — “quotes” ‘single’ 12345",
    "&#128512; &#x1F600; &#0; &#128; &#xD800; &#1114112; &#65535; &#9;x &#X41;&#x42 &#67",
    "&ampersand &copy2024 &notin; &not-in &unknown; & alone &#; &#x; &eacute&Eacute; 他说&quot;你好&quot;",
    "",
    MEDIUM_PROMPT,
    LONG_PROMPT,
]

# Extra inputs for clean_prompt alone (the tokenizer's own normalization would hide some differences).
CLEAN_ONLY = [
    "\x1c\x1d a \x1e\x1f", "a\x1cb", "\u2028line\u2029sep\u0085nel\u000bvt\u000cff", "&#x1C;&#13;&#12;&#11;x",
    "&AMP;&AMP&amp &aMp; &Amp;", "&eacute&eacute;&Eacute &eacutex", "&#99999999999999999999; &#x110000;",
    "&lt&gt&quot&apos&apos; &nbsp&nbsp;", "&" + "a" * 40 + ";", "end &amp", "&", "&&amp;", "&#38;amp; &amp;#38;",
    "&amp;amp;amp;", "&#x26;lt; &#x3C; &#60", "&ampé &lté &#233; &#xE9;", "&#127; &#x9F; &#x81; &#xFDD0; &#x1FFFF;",
    "&hellip; &mdash;&ndash; &euro; &trade; &hearts;&alpha;&Omega;", "&notit; &not; &noti", "x &#\n1 &\t;",
    "  \u3000\u00a0 ", "a\u200bb \u180e c\u2060d \ufeff e", "tab\t\t\tx\r\n\r\ny",
    # ftfy.fix_text: curly quotes (also produced by references and C1 controls), all-caps references,
    # ligatures, width, terminal escapes, control characters, and its line-wise "stop decoding after '<'".
    "他说“你好”，‘再见’。", "it\u02bcs ‚low‛ „double‟ &#x2019;s &ldquo;x&rdquo; \u0093c1\u0094",
    "P&EACUTE;REZ STRA&SZLIG;E &OMEGA; &NTILDE; &nTILDE; &AMP;", "ﬃ ﬄ ﬅ Ĳ ǅ ǈ ŉ", "ｶﾀｶﾅ ｱ｡ ￣ ￥ ｟ｘ｠ ＡＢ！",
    "\x1b[31mred\x1b[0m \x1b[1;2Hpos \x1b[ no", "\u206ax\ufff9y\u007fz\x00w\x08v", "\x80 \x81 \x9f",
    "a &amp;amp;amp; b\nc &lt;b&gt;\nd <i> &amp;amp;amp;\ne &amp;amp;amp;",
]


def tokenizer_fixture(tokenizers_module, directory: pathlib.Path) -> tuple:
    # AutoTokenizer reads the class from tokenizer_config.json, as for the published google/umt5-xxl folder.
    (directory / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "T5Tokenizer"}))
    tokenizer = tokenizers_module.HuggingfaceTokenizer(name=str(directory), seq_len=TEXT_LEN, clean="whitespace")
    sentencepiece = spm.SentencePieceProcessor(model_file=str(directory / "spiece.model"))
    cases = []
    for prompt in PROMPTS:
        ids, mask = tokenizer(prompt, return_mask=True, add_special_tokens=True)
        ids, mask = ids[0].tolist(), mask[0].tolist()
        length = sum(mask)
        assert mask == [1] * length + [0] * (TEXT_LEN - length) and ids[length:] == [0] * (TEXT_LEN - length)
        cleaned = tokenizer._clean(prompt)
        own = sentencepiece.encode(cleaned)
        cases.append({"prompt": prompt, "cleaned": cleaned, "ids": ids[:length], "length": length,
                      "sentencepiece_ids": own[:TEXT_LEN - 1] + [1],
                      "sentencepiece_differs": own[:TEXT_LEN - 1] + [1] != ids[:length]})
    assert any(case["length"] == TEXT_LEN for case in cases), "the long prompt must be truncated"
    clean = [[text, tokenizer._clean(text)] for text in CLEAN_ONLY]
    # Python's html.unescape knows every HTML5 name; x2v knows the HTML 4 ones (t5_html_entities.cpp).
    outside = "x &NotEqualTilde; &bigstar; y"
    assert html.unescape(outside) != outside
    document = {"max_length": TEXT_LEN, "vocab_size": sentencepiece.get_piece_size(),
                "transformers_vocab_size": tokenizer.vocab_size, "pad_id": 0, "eos_id": 1, "unk_id": 2,
                "cases": cases, "clean": clean, "outside_entity_subset": outside}
    (OUT / "tokenizer_cases.json").write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n")
    return tokenizer, cases


def randomize(model: torch.nn.Module, seed: int) -> None:
    """Seeded random weights at scales that keep every part visible, rounded to bf16."""
    generator = torch.Generator().manual_seed(seed)
    for name, parameter in model.named_parameters():
        shape = parameter.shape
        if name == "token_embedding.weight":
            values = torch.randn(shape, generator=generator)
        elif parameter.ndim == 1:
            values = 1.0 + 0.2 * torch.randn(shape, generator=generator)
        elif name.endswith("pos_embedding.embedding.weight"):
            values = torch.randn(shape, generator=generator)  # a bias of a few units: it matters
        else:
            values = torch.randn(shape, generator=generator) / shape[1] ** 0.5
            if name.endswith(("attn.q.weight", "attn.k.weight")):
                values *= 0.5  # unscaled T5 logits: keep them near the bias's size
        parameter.data = values.to(torch.bfloat16).to(torch.float32)


def transformers_name(name: str) -> str:
    block_names = {"norm1.weight": "layer.0.layer_norm.weight", "attn.q.weight": "layer.0.SelfAttention.q.weight",
                   "attn.k.weight": "layer.0.SelfAttention.k.weight",
                   "attn.v.weight": "layer.0.SelfAttention.v.weight",
                   "attn.o.weight": "layer.0.SelfAttention.o.weight",
                   "pos_embedding.embedding.weight": "layer.0.SelfAttention.relative_attention_bias.weight",
                   "norm2.weight": "layer.1.layer_norm.weight", "ffn.gate.0.weight": "layer.1.DenseReluDense.wi_0.weight",
                   "ffn.fc1.weight": "layer.1.DenseReluDense.wi_1.weight",
                   "ffn.fc2.weight": "layer.1.DenseReluDense.wo.weight"}
    if name == "token_embedding.weight":
        return "shared.weight"
    if name == "norm.weight":
        return "encoder.final_layer_norm.weight"
    _, index, rest = name.split(".", 2)
    return f"encoder.block.{index}.{block_names[rest]}"


def encoder_fixture(t5_module, tokenizer, cases: list) -> None:
    import transformers

    vocab = tokenizer.vocab_size  # spiece pieces + transformers' <extra_id_N> sentinels, as umT5's 256384
    model = t5_module.T5Encoder(vocab=vocab, shared_pos=False, dropout=0.0, **SMALL).eval()
    randomize(model, seed=5)
    state = {name: value.detach().clone() for name, value in model.state_dict().items()}

    chosen = [cases[0], cases[1], cases[2], cases[-2]]  # English, Chinese, emoji/unk, past max_distance
    assert 128 < chosen[-1]["length"] < TEXT_LEN
    ids = torch.zeros(len(chosen), TEXT_LEN, dtype=torch.long)
    mask = torch.zeros(len(chosen), TEXT_LEN, dtype=torch.long)
    for row, case in enumerate(chosen):
        ids[row, :case["length"]] = torch.tensor(case["ids"])
        mask[row, :case["length"]] = 1
    with torch.no_grad():
        out = model(ids, mask)
        out_bf16 = model.to(torch.bfloat16)(ids, mask).float()
        model.to(torch.float32)

    wan_dir = OUT / "wan"
    wan_dir.mkdir(parents=True, exist_ok=True)
    torch.save({name: value.to(torch.bfloat16) for name, value in state.items()},
               wan_dir / "models_t5_umt5-xxl-enc-bf16.pth")

    hf_dir = OUT / "text_encoder"
    hf_dir.mkdir(parents=True, exist_ok=True)
    config = transformers.UMT5Config(
        vocab_size=vocab, d_model=SMALL["dim"], d_kv=SMALL["dim_attn"] // SMALL["num_heads"],
        d_ff=SMALL["dim_ffn"], num_layers=SMALL["num_layers"], num_heads=SMALL["num_heads"],
        relative_attention_num_buckets=SMALL["num_buckets"], relative_attention_max_distance=128,
        feed_forward_proj="gated-gelu", dropout_rate=0.0, layer_norm_epsilon=1e-6, tie_word_embeddings=False)
    config.architectures = ["UMT5EncoderModel"]
    config.to_json_file(str(hf_dir / "config.json"))
    save_file({transformers_name(name): value.to(torch.bfloat16).contiguous() for name, value in state.items()},
              str(hf_dir / "model.safetensors"))
    hf_model = transformers.UMT5EncoderModel.from_pretrained(str(hf_dir), torch_dtype=torch.float32).eval()
    with torch.no_grad():
        hf_out = hf_model(input_ids=ids, attention_mask=mask).last_hidden_state

    outputs, summary = {}, []
    for row, case in enumerate(chosen):
        length = case["length"]
        reference = out[row, :length]
        hf_error = ((hf_out[row, :length] - reference).abs().max() / reference.abs().max()).item()
        assert hf_error < 1e-5, f"transformers' UMT5 disagrees with the official T5Encoder: {hf_error}"
        bf16_error = ((out_bf16[row, :length] - reference).abs().max() / reference.abs().max()).item()
        outputs[f"out_{row}"] = reference.contiguous()
        outputs[f"out_bf16_{row}"] = out_bf16[row, :length].to(torch.bfloat16).contiguous()
        summary.append({"ids": case["ids"], "length": length, "prompt": case["prompt"][:80],
                        "transformers_relative_error": hf_error, "official_bf16_relative_error": bf16_error})
    save_file(outputs, str(OUT / "encoder_outputs.safetensors"))

    embedding = t5_module.T5RelativeEmbedding(SMALL["num_buckets"], SMALL["num_heads"], bidirectional=True)
    offsets = torch.arange(-300, 301)
    buckets = embedding._relative_position_bucket(offsets).tolist()
    document = {"config": {**SMALL, "vocab_size": vocab, "max_distance": 128}, "cases": summary,
                "bucket_offsets": [-300, 300], "buckets": buckets}
    (OUT / "encoder_cases.json").write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n")
    for entry in summary:
        print(f"  {entry['length']:4d} tokens: transformers {entry['transformers_relative_error']:.2e}, "
              f"official bf16 {entry['official_bf16_relative_error']:.2e}  {entry['prompt'][:40]!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wan-repo", type=pathlib.Path, required=True,
                        help="a checkout of github.com/Wan-Video/Wan2.1 (its wan/ folder is enough)")
    args = parser.parse_args()
    tokenizers_module, t5_module = load_official(args.wan_repo)
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        directory = pathlib.Path(scratch)
        model_path = train_tokenizer(directory)
        (OUT / "spiece.model").write_bytes(model_path.read_bytes())
        tokenizer, cases = tokenizer_fixture(tokenizers_module, directory)
        differing = [case["prompt"][:40] for case in cases if case["sentencepiece_differs"]]
        print(f"tokenizer: {len(cases)} prompts; SentencePiece's own ids differ (byte fallback) for {differing}")
        encoder_fixture(t5_module, tokenizer, cases)
    total = sum(path.stat().st_size for path in OUT.rglob("*") if path.is_file())
    print(f"wrote {OUT} ({total / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
