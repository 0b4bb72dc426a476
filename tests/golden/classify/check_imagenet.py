#!/usr/bin/env python3
"""einvit-classify with ImageNet-size checkpoints of each family, against the families' own code.

    check_imagenet.py EINVIT_CLASSIFY WORKDIR

For a timm ViT-Ti/16, a timm DeiT-Ti distilled, a timm DeiT-III small (layer scale), a timm ViT-M/16
with registers at 256 x 256, a torchvision ViT-B/32, an HF transformers ViT-Ti, an HF transformers DeiT-Ti
distilled (DeiTForImageClassificationWithTeacher), an HF transformers DINOv2-S linear classifier
(Dinov2ForImageClassification, its 37 x 37 table resampled to 16 x 16) and the same with 4 registers
(Dinov2WithRegistersForImageClassification, the registers out of the mean) (random weights,
saved with safetensors as each library names them), and a set of PNG, BMP and JPEG
images of several sizes, grey and colour, one of them 6 x 2000 (resized to 248 x 82666 before the
crop, of which einvit computes only the crop):
1. the architecture is recognised from the checkpoint alone (no --arch);
2. einvit's preprocessing (--save-inputs) equals the family's own pipeline -- timm's
   create_transform for the model's pretrained config, torchvision's weights.transforms(), HF's
   ViTImageProcessor, DeiTImageProcessor and BitImageProcessor as facebook/deit-*-distilled-patch16-224 and
   facebook/dinov2-*-imagenet1k-1-layer configure them (the latter's crop offset rounded down where
   torchvision's rounds half to even: odd.png's 123 / 2) -- to within the 8-bit rounding PIL does after each resampling pass and einvit
   does not (half a level, carried through the second pass's weights: at most one grey level for
   bilinear, 1.25 for bicubic with its negative lobes; 0.4 on average, no bias beyond 0.1), for every
   image (einvit decodes JPEG with the libjpeg-turbo that Pillow uses, with the same settings);
3. the probabilities einvit prints (--json --top-k 1000) equal PyTorch's softmax of the same model on
   einvit's own inputs (argmax equal, |delta| <= 1e-6), for every image;
4. the HF ViT saved by save_pretrained in several shards, given as the folder and as its index, prints
   the very same output as the single file. The parameters each library
   initialises to zero (torchvision's head, the LayerNorm biases) are given random values first, and
   PyTorch's logits must vary across the classes and the images, so that the comparison can fail.
"""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import timm
import torch
import torchvision
from PIL import Image
from safetensors.torch import save_file
from transformers import (BitImageProcessor, DeiTConfig, DeiTForImageClassificationWithTeacher, DeiTImageProcessor,
                          Dinov2Config, Dinov2ForImageClassification, Dinov2WithRegistersConfig, Dinov2WithRegistersModel,
                          ViTConfig, ViTForImageClassification, ViTImageProcessor)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "vit"))
from gen import HfRegistersClassifier  # noqa: E402  (the parity tests' 4.52-semantics classifier)


def images(work):
    rng = np.random.default_rng(7)
    out = []

    def smooth(h, w, c):
        y, x = np.mgrid[0:h, 0:w]
        base = [np.sin(x / (7 + 5 * k)) * np.cos(y / (11 + 3 * k)) for k in range(c)]
        img = 127.5 + 100 * np.stack(base, -1) + rng.normal(0, 20, (h, w, c))
        return np.clip(img, 0, 255).astype(np.uint8)

    for name, (h, w, c, fmt) in {"wide.png": (240, 320, 3, "PNG"), "tall.bmp": (300, 200, 3, "BMP"),
                                 "grey.png": (150, 150, 1, "PNG"), "exact.png": (224, 224, 3, "PNG"),
                                 "photo.jpg": (260, 390, 3, "JPEG"), "odd.png": (240, 326, 3, "PNG"),
                                 "strip.png": (2000, 6, 3, "PNG")}.items():
        arr = smooth(h, w, c)
        img = Image.fromarray(arr[..., 0] if c == 1 else arr, "L" if c == 1 else "RGB")
        path = os.path.join(work, name)
        img.save(path, fmt, **({"quality": 92} if fmt == "JPEG" else {}))
        out.append(path)
    return out


def perturbed(model):
    """The model with every parameter its library initialises to zero (torchvision's head, LayerNorm
    biases, ...) given small random values, so that no output is constant whatever the input: a
    zero head makes every probability 1/1000 for any backbone."""
    with torch.no_grad():
        for p in model.parameters():
            if not p.any():
                p.add_(torch.randn_like(p) * 0.02)
    return model


def layer_scales_made_to_count(model, suffix):
    """The layer scales (parameters named ...suffix), near 0 or 1 at initialisation, drawn from [0.2, 1)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(suffix):
                p.uniform_(0.2, 1.0)


def family_models():
    torch.manual_seed(0)
    for case, arch in [("timm_vit_tiny", "vit_tiny_patch16_224"), ("timm_deit_tiny_distilled", "deit_tiny_distilled_patch16_224"),
                       ("timm_deit3_small", "deit3_small_patch16_224"), ("timm_vit_medium_reg4", "vit_medium_patch16_reg4_gap_256")]:
        m = timm.create_model(arch, pretrained=False).eval()
        layer_scales_made_to_count(m, ".gamma")  # LayerScale's gammas, 1e-6 and 1e-5 at initialisation
        perturbed(m)
        cfg = timm.data.resolve_data_config({}, model=m)
        yield case, arch, m, m.state_dict(), timm.data.create_transform(**cfg), cfg["std"]
    m = perturbed(torchvision.models.vit_b_32().eval())
    t = torchvision.models.ViT_B_32_Weights.IMAGENET1K_V1.transforms()
    yield "torchvision_vit_b_32", "vit_b_32", m, m.state_dict(), t, t.std
    hf = ViTForImageClassification(ViTConfig(hidden_size=192, num_hidden_layers=12, num_attention_heads=3,
                                             intermediate_size=768, num_labels=1000)).eval()
    perturbed(hf)
    processor = ViTImageProcessor()

    def hf_transform(img):
        return processor(images=img, return_tensors="pt")["pixel_values"][0]

    class Logits(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, x):
            return self.model(pixel_values=x).logits

    yield "hf_vit_tiny", "hf-vit-tiny-patch16-224", Logits(hf), hf.state_dict(), hf_transform, processor.image_std
    deit = DeiTForImageClassificationWithTeacher(DeiTConfig(hidden_size=192, num_hidden_layers=12, num_attention_heads=3,
                                                            intermediate_size=768, num_labels=1000)).eval()
    perturbed(deit)
    # facebook/deit-*-distilled-patch16-224's preprocessor_config.json: 256 x 256 bicubic, crop 224, ImageNet's statistics
    deit_processor = DeiTImageProcessor(image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225])

    def deit_transform(img):
        return deit_processor(images=img, return_tensors="pt")["pixel_values"][0]

    yield ("hf_deit_tiny_distilled", "hf-deit-tiny-distilled-patch16-224", Logits(deit), deit.state_dict(), deit_transform,
           deit_processor.image_std)
    dinov2 = Dinov2ForImageClassification(Dinov2Config(hidden_size=384, num_hidden_layers=12, num_attention_heads=6,
                                                       patch_size=14, image_size=518, num_labels=1000)).eval()
    layer_scales_made_to_count(dinov2, ".lambda1")  # 1.0 at initialisation
    perturbed(dinov2)
    # facebook/dinov2-*-imagenet1k-1-layer's preprocessor_config.json
    dinov2_processor = BitImageProcessor(size={"shortest_edge": 256}, crop_size={"height": 224, "width": 224}, resample=3,
                                         image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225])

    def dinov2_transform(img):
        return dinov2_processor(images=img, return_tensors="pt")["pixel_values"][0]

    yield ("hf_dinov2_small_classifier", "hf-dinov2-small-imagenet1k-1-layer", Logits(dinov2), dinov2.state_dict(),
           dinov2_transform, dinov2_processor.image_std)
    # Dinov2WithRegistersForImageClassification as Meta's linear heads were trained and transformers 4.52 and
    # later run it, the registers out of the mean (the parity tests' wrapper: this venv's 4.49 averages them in)
    registers = HfRegistersClassifier(Dinov2WithRegistersModel(Dinov2WithRegistersConfig(
        hidden_size=384, num_hidden_layers=12, num_attention_heads=6, patch_size=14, image_size=518,
        num_register_tokens=4)), 1000).eval()
    layer_scales_made_to_count(registers, ".lambda1")
    with torch.no_grad():  # zeros at initialisation: made to count
        registers.dinov2_with_registers.embeddings.register_tokens.normal_()
    perturbed(registers)
    # dinov2-with-registers-*-imagenet1k-1-layer: the same BitImageProcessor
    yield ("hf_dinov2_registers_small_classifier", "hf-dinov2-with-registers-small-imagenet1k-1-layer", registers,
           registers.state_dict(), dinov2_transform, dinov2_processor.image_std)


def main():
    binary, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    torch.set_num_threads(2)
    files = images(work)
    failures = []
    for case, arch, model, state, transform, std in family_models():
        ckpt = os.path.join(work, case + ".safetensors")
        save_file({k: v.contiguous() for k, v in state.items()}, ckpt)
        inputs_path = os.path.join(work, case + ".inputs")
        run = subprocess.run([binary, "--model", ckpt, "--json", "--top-k", "1000", "--save-inputs", inputs_path] + files,
                             capture_output=True, text=True)
        if run.returncode != 0:
            failures.append(f"{case}: einvit-classify failed: {run.stderr.strip()}")
            continue
        results = json.loads(run.stdout)
        # 1. recognised from the checkpoint alone
        if f"model: {arch} " not in run.stderr:
            failures.append(f"{case}: expected architecture {arch}, einvit-classify said: {run.stderr.strip()}")
        side = 256 if "256" in arch else 224
        ours = torch.from_numpy(np.fromfile(inputs_path, dtype=np.float32).reshape(len(files), 3, side, side))
        with torch.no_grad():
            logits = model(ours).double()
            reference = torch.softmax(logits, -1).numpy()
        # the check means something only where the logits differ between classes and between images
        spread = float(logits.std(-1).min())
        if spread < 0.05 or float((logits[0] - logits[-1]).abs().max()) < 0.05:
            failures.append(f"{case}: PyTorch's logits are nearly constant (std across classes {spread:.3g}): the model's "
                            "outputs would match whatever the backbone computed")
        # 2. preprocessing against the family's own pipeline
        for i, path in enumerate(files):
            theirs = transform(Image.open(path).convert("RGB"))
            if hasattr(theirs, "numpy"):
                theirs = theirs.numpy()
            signed = (ours[i].numpy() - theirs) * np.array(std).reshape(3, 1, 1) * 255
            levels = np.abs(signed)
            bound = 1.01 if case in ("torchvision_vit_b_32", "hf_vit_tiny") else 1.25  # bilinear, or bicubic's lobes
            print(f"{case} {os.path.basename(path)}: preprocessing |delta| max {levels.max():.3f}, mean {levels.mean():.3f}, "
                  f"bias {signed.mean():+.3f} grey levels")
            if levels.max() > bound or levels.mean() > 0.4 or abs(signed.mean()) > 0.1:
                failures.append(f"{case} {path}: preprocessing differs by up to {levels.max():.3f} grey levels "
                                f"(mean {levels.mean():.3f}, bias {signed.mean():+.3f}; bounds {bound}, 0.4, 0.1)")
            # 3. the probabilities
            got = np.zeros(1000)
            for t in results[i]["top"]:
                got[t["class"]] = t["probability"]
            delta = np.abs(got - reference[i]).max()
            argmax_ok = int(np.argmax(got)) == int(np.argmax(reference[i]))
            print(f"{case} {os.path.basename(path)}: probabilities max |delta| {delta:.2e}, argmax {'equal' if argmax_ok else 'DIFFERENT'}")
            if delta > 1e-6 or not argmax_ok:
                failures.append(f"{case} {path}: probabilities differ by {delta:.2e} (argmax equal: {argmax_ok})")
        if case == "hf_vit_tiny":  # 4. the same model as save_pretrained writes it in shards: the same output
            folder = os.path.join(work, case + "_sharded")
            model.model.save_pretrained(folder, safe_serialization=True, max_shard_size="5MB")
            shards = [n for n in os.listdir(folder) if n.endswith(".safetensors")]
            for given in (folder, os.path.join(folder, "model.safetensors.index.json")):
                again = subprocess.run([binary, "--model", given, "--json", "--top-k", "1000"] + files, capture_output=True,
                                       text=True)
                same = again.returncode == 0 and again.stdout == run.stdout and f"model: {arch} " in again.stderr
                print(f"{case} from {len(shards)} shards (--model {os.path.basename(given)}): "
                      f"{'the same output' if same else 'DIFFERENT'}")
                if len(shards) < 2 or not same:
                    failures.append(f"{case}: --model {given} ({len(shards)} shards) gave another result: "
                                    f"{again.stderr.strip()}")
            shutil.rmtree(folder)
        os.remove(ckpt)
    if failures:
        print("\n".join(["FAILED:"] + failures))
        sys.exit(1)
    print("all families: preprocessing and probabilities match")


if __name__ == "__main__":
    main()
