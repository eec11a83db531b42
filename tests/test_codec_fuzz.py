"""Corrupted bitstreams, as a channel with residual bit errors delivers them, for every codec.

Each decode must raise BitstreamError or return a uint8 HxWx3 image of bounded size (the
header's size where the codec has our header), within MAX_DECODE_S, and the whole run
must not grow the process's peak memory by more than MAX_RSS_GROWTH.  Streams are of
64x64 images and the RNG is seeded, so the run is fast and reproducible; run with -rP to
see each codec's statistics.
"""
import io
import resource
import struct
import time

import numpy as np
import pytest
import torch

from gensemcom.agents import codec, images, jpeg_codec
from gensemcom.agents.backends import codec as backends
from helpers.tiny_models import random_zoo_state

SIZE = 64
BERS = (1e-4, 1e-3, 1e-2, 1e-1)
MAX_DECODE_S = 5.0
MAX_RSS_GROWTH = 1 << 30  # bytes; a 64x64 decode needs a few MB, a 2048x2048 one ~1 GB
ZOO_ARCHS = ("bmshj2018-factorized", "bmshj2018-hyperprior", "mbt2018-mean", "mbt2018", "cheng2020-anchor")


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def image():
    return images.load_image("kodim23", SIZE)


# --- corruptions -----------------------------------------------------------------
def flip(data: bytes, rng, n: int) -> bytes:
    b = bytearray(data)
    for pos in rng.choice(len(b) * 8, size=min(n, len(b) * 8), replace=False):
        b[pos // 8] ^= 1 << (pos % 8)
    return bytes(b)


def generic_corruptions(stream: bytes, header_size: int, rng) -> list[tuple[str, bytes]]:
    """225 corruptions that need no knowledge of the format beyond its header size."""
    cases = [("1-3 bit flips", flip(stream, rng, int(rng.integers(1, 4)))) for _ in range(40)]
    for ber in BERS:  # at least one flip, else low BERs would mostly test the intact stream
        cases += [(f"BER {ber:g}", flip(stream, rng, max(1, rng.binomial(len(stream) * 8, ber))))
                  for _ in range(20)]
    cases += [("truncated", stream[:rng.integers(len(stream))]) for _ in range(25)]
    for _ in range(15):
        pos = int(rng.integers(len(stream) + 1))
        cases.append(("bytes inserted", stream[:pos] + rng.bytes(int(rng.integers(1, 17))) + stream[pos:]))
    for _ in range(15):
        pos = int(rng.integers(len(stream)))
        cases.append(("bytes deleted", stream[:pos] + stream[pos + int(rng.integers(1, 17)):]))
    for _ in range(25):
        b = bytearray(stream)
        b[rng.integers(header_size)] = rng.integers(256)
        cases.append(("header byte edited", bytes(b)))
    cases += [("garbage payload", stream[:header_size] + rng.bytes(len(stream) - header_size)) for _ in range(10)]
    cases += [("random bytes", rng.bytes(int(rng.integers(0, 5000)))) for _ in range(10)]
    cases += [("all zeros", bytes(n)) for n in (0, 1, header_size, len(stream), 4096)]
    return cases


def run_fuzz(label, decode, cases, expected_size, max_side):
    """Decode every case; returns (and prints) the statistics."""
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    raised = degraded = 0
    worst = 0.0
    degraded_by_kind = dict.fromkeys((kind for kind, _ in cases), 0)
    for kind, data in cases:
        start = time.perf_counter()
        try:
            out = decode(data)
        except codec.BitstreamError:
            out = None
        except Exception as exc:  # anything else is a decoder bug: say which corruption
            pytest.fail(f"{label}, {kind}: {type(exc).__name__}: {exc}")
        elapsed = time.perf_counter() - start
        worst = max(worst, elapsed)
        assert elapsed < MAX_DECODE_S, f"{label}, {kind}: decode took {elapsed:.1f} s"
        if out is None:
            raised += 1
            continue
        degraded += 1
        degraded_by_kind[kind] += 1
        assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3, (kind, out.dtype, out.shape)
        assert 1 <= out.shape[0] <= max_side and 1 <= out.shape[1] <= max_side, (kind, out.shape)
        assert out.shape[:2] == expected_size(data), (kind, out.shape)
    growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - rss0
    assert growth < MAX_RSS_GROWTH, f"{label}: peak memory grew by {growth / 2**20:.0f} MiB"
    stats = {"cases": len(cases), "raised": raised, "degraded": degraded, "max_decode_s": round(worst, 3)}
    print(f"{label}: {stats}")
    stats["degraded_by_kind"] = degraded_by_kind
    return stats


def check_payload_errors_degrade(stats):
    """Errors that leave the header intact must reach the entropy decoder, not be rejected."""
    by_kind = stats["degraded_by_kind"]
    assert by_kind["garbage payload"] == 10
    assert by_kind["1-3 bit flips"] >= 20  # of 40; the others hit the header (a quarter of a hyperprior stream)


# --- learned codec (pyagents/codec.py) --------------------------------------------
def _with_header(stream, **fields):
    names = ["magic", "version", "H", "W", "C", "h", "w", "n"]
    values = dict(zip(names, codec._HEADER.unpack_from(stream)))
    values.update(fields)
    return codec._HEADER.pack(*(values[k] for k in names)) + stream[codec._HEADER.size:]


def _with_length(stream, length, payload=None):
    hdr = codec._HEADER.size
    rest = stream[hdr + codec._LEN.size:] if payload is None else payload
    return stream[:hdr] + struct.pack(">I", length) + rest


def learned_header_mutations(s, rng):
    hdr = codec._HEADER.size + codec._LEN.size
    payload = len(s) - hdr
    fields = [dict(magic=b"GSZC"), dict(magic=b"\0\0\0\0"), dict(version=0), dict(version=255),
              dict(H=0), dict(W=0), dict(H=65535), dict(W=65535), dict(H=codec.MAX_SIDE + 1),
              dict(H=codec.MAX_SIDE, W=codec.MAX_SIDE), dict(C=0), dict(C=65535), dict(h=0), dict(w=65535),
              dict(n=0), dict(n=2), dict(n=255)]
    cases = [(f"header {f}", _with_header(s, **f)) for f in fields]
    # A consistent header for a larger image: decodes (to 256x256) from the same payload.
    cases.append(("consistent 256x256 header", _with_header(s, H=256, W=256, h=16, w=16)))
    cases += [(f"string length {n}", _with_length(s, n)) for n in (0, 4, 7, payload + 4, 2 ** 32 - 1)]
    for _ in range(20):  # consistent framing, truncated payload: the decoder reads zeros past the end
        n = 4 * int(rng.integers(2, max(3, payload // 4)))
        cases.append(("payload truncated, length consistent", _with_length(s, n, s[hdr:hdr + n])))
    return cases


@pytest.mark.parametrize("rate", list(codec.RATE_POINTS))
@pytest.mark.slow
def test_learned_fuzz(rate, image):
    path = codec.rate_checkpoint(rate)
    if not path.is_file():
        if rate == "medium":
            pytest.fail(f"missing shipped checkpoint {path}; {codec.train_command(rate)}")
        pytest.skip(f"rate point {rate!r} not trained yet ({path.name} missing): {codec.train_command(rate)}")
    lc = backends.learned(rate=rate)
    stream = lc.encode(image)
    rng = np.random.default_rng(0)
    cases = generic_corruptions(stream, codec._HEADER.size + codec._LEN.size, rng)
    cases += learned_header_mutations(stream, rng)
    assert len(cases) >= 200
    stats = run_fuzz(f"learned {rate}", lc.decode, cases,
                     lambda d: codec._HEADER.unpack_from(d)[2:4], codec.MAX_SIDE)
    check_payload_errors_degrade(stats)
    assert stats["degraded_by_kind"]["payload truncated, length consistent"] == 20


def test_learned_header_mutations_all_raise(image):
    lc = backends.learned()
    stream = lc.encode(image)
    for kind, data in learned_header_mutations(stream, np.random.default_rng(1)):
        if "consistent" in kind:
            continue
        with pytest.raises(codec.BitstreamError):
            lc.decode(data)


# --- compressai.zoo with random weights -------------------------------------------
@pytest.fixture(scope="module")
def zoo_codecs(tmp_path_factory):
    """arch -> ZooCodec of a random quality-1 model (random_zoo_state) saved as a checkpoint."""
    out = {}
    for arch in ZOO_ARCHS:
        path = tmp_path_factory.mktemp("zoo") / f"{arch}.pth.tar"
        torch.save(random_zoo_state(arch), path)
        out[arch] = backends.compressai_zoo(arch=arch, checkpoint=str(path), quality=1)
    return out


def _zoo_with(stream, **fields):
    names = ["magic", "version", "arch", "quality", "H", "W", "n"]
    values = dict(zip(names, backends._ZHEADER.unpack_from(stream)))
    values.update(fields)
    return backends._ZHEADER.pack(*(values[k] for k in names)) + stream[backends._ZHEADER.size:]


def _zoo_with_entry(stream, i, **fields):
    off = backends._ZHEADER.size + i * backends._ZSTRING.size
    names = ["C", "h", "w", "length"]
    values = dict(zip(names, backends._ZSTRING.unpack_from(stream, off)))
    values.update(fields)
    return stream[:off] + backends._ZSTRING.pack(*(values[k] for k in names)) + stream[off + backends._ZSTRING.size:]


def zoo_header_mutations(zc, s, rng):
    n = backends._ZHEADER.unpack_from(s)[-1]
    table_end = backends._ZHEADER.size + n * backends._ZSTRING.size
    big = zc.max_side
    fields = [dict(magic=b"GSLC"), dict(version=2), dict(arch=0), dict(arch=zc.arch_id % 6 + 1), dict(arch=255),
              dict(quality=0), dict(quality=9), dict(H=0), dict(W=0), dict(H=65535), dict(W=big + 1),
              dict(H=big, W=big), dict(n=0), dict(n=n + 1), dict(n=255)]
    cases = [(f"header {f}", _zoo_with(s, **f)) for f in fields]
    lengths = [backends._ZSTRING.unpack_from(s, backends._ZHEADER.size + i * backends._ZSTRING.size)[3]
               for i in range(n)]
    for i in range(n):
        for f in (dict(C=0), dict(C=65535), dict(h=0), dict(w=65535), dict(h=big // 16, w=big // 16),
                  dict(length=0), dict(length=4), dict(length=lengths[i] + 1), dict(length=lengths[i] + 4),
                  dict(length=2 ** 32 - 1)):
            cases.append((f"string {i} {f}", _zoo_with_entry(s, i, **f)))
    for _ in range(10):  # consistent framing, last string truncated
        keep = 4 * int(rng.integers(2, max(3, lengths[-1] // 4)))
        cut = _zoo_with_entry(s, n - 1, length=keep)
        cases.append(("last string truncated, length consistent", cut[:table_end + sum(lengths[:-1]) + keep]))
    return cases


@pytest.mark.parametrize("arch", ZOO_ARCHS)
@pytest.mark.slow
def test_zoo_fuzz(arch, zoo_codecs, image):
    zc = zoo_codecs[arch]
    stream = zc.encode(image)
    n = backends._ZHEADER.unpack_from(stream)[-1]
    rng = np.random.default_rng(0)
    cases = generic_corruptions(stream, backends._ZHEADER.size + n * backends._ZSTRING.size, rng)
    cases += zoo_header_mutations(zc, stream, rng)
    assert len(cases) >= 200
    stats = run_fuzz(f"compressai_zoo {arch}", zc.decode, cases,
                     lambda d: backends._ZHEADER.unpack_from(d)[4:6], zc.max_side)
    check_payload_errors_degrade(stats)


def test_zoo_header_mutations_all_raise(zoo_codecs, image):
    for zc in zoo_codecs.values():
        stream = zc.encode(image)
        for kind, data in zoo_header_mutations(zc, stream, np.random.default_rng(1)):
            if "consistent" in kind:
                continue
            with pytest.raises(codec.BitstreamError):
                zc.decode(data)


# --- JPEG ---------------------------------------------------------------------------
def _segment(stream: bytes, marker: int) -> int:
    """Offset of the first marker segment 0xFF<marker> (after SOI)."""
    pos = stream.index(bytes([0xFF, marker]), 2)
    return pos


def jpeg_header_mutations(s: bytes, rng):
    sof = _segment(s, 0xC0)  # FFC0, length u16, precision u8, height u16, width u16, ncomp u8
    sos = _segment(s, 0xDA)
    dqt, dht = _segment(s, 0xDB), _segment(s, 0xC4)

    def put(data, offset, fmt, value):
        return data[:offset] + struct.pack(fmt, value) + data[offset + struct.calcsize(fmt):]

    cases = [(f"SOF height {v}", put(s, sof + 5, ">H", v)) for v in (0, 4097, 5000, 65535)]
    cases += [(f"SOF width {v}", put(s, sof + 7, ">H", v)) for v in (0, 4097, 65535)]
    cases += [("SOF 4096x4096", put(put(s, sof + 5, ">H", 4096), sof + 7, ">H", 4096))]
    cases += [(f"SOF components {v}", put(s, sof + 9, ">B", v)) for v in (0, 2, 255)]
    cases += [(f"SOF marker {hex(m)}", put(s, sof + 1, ">B", m)) for m in (0xC2, 0xC3, 0xC9, 0xCF)]
    cases += [(f"{name} length {v}", put(s, off + 2, ">H", v))
              for name, off in (("DQT", dqt), ("DHT", dht), ("SOF", sof), ("SOS", sos))
              for v in (0, 2, 65535)]
    cases += [("no SOI", s[2:]), ("bad SOI", b"\xff\xd9" + s[2:]), ("no EOI", s[:-2]),
              ("ends after SOS header", s[:sos + 2 + struct.unpack(">H", s[sos + 2:sos + 4])[0]]),
              ("no scan", s[:sos] + b"\xff\xd9"), ("two scans", s[:-2] + s[sos:]),
              ("no quant tables", s[:dqt] + s[dqt + 2 + struct.unpack(">H", s[dqt + 2:dqt + 4])[0]:])]
    for _ in range(10):
        cases.append(("scan data garbage", s[:sos + 14] + rng.bytes(len(s) - sos - 16) + b"\xff\xd9"))
    return cases


def _jpeg_size(data):
    from PIL import Image
    with Image.open(io.BytesIO(data)) as im:
        return im.size[::-1]


def test_jpeg_fuzz(image):
    jc = backends.jpeg(quality=75)
    stream = jc.encode(image)
    rng = np.random.default_rng(0)
    header_size = _segment(stream, 0xDA) + 14  # everything before the entropy-coded data
    cases = generic_corruptions(stream, header_size, rng) + jpeg_header_mutations(stream, rng)
    assert len(cases) >= 200
    stats = run_fuzz("jpeg q75", jc.decode, cases, _jpeg_size, jpeg_codec.MAX_SIDE)
    check_payload_errors_degrade(stats)
    from PIL import ImageFile
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False  # the decoder's permission did not leak


def test_jpeg_header_errors_raise(image):
    jc = backends.jpeg(quality=75)
    cases = dict(jpeg_header_mutations(jc.encode(image), np.random.default_rng(1)))
    for kind in ("SOF height 0", "SOF height 4097", "SOF height 65535", "SOF width 0", "SOF width 4097",
                 "SOF marker 0xc2", "no SOI", "bad SOI", "no scan"):
        with pytest.raises(codec.BitstreamError):
            jc.decode(cases[kind])
    assert jc.decode(cases["SOF 4096x4096"]).shape == (4096, 4096, 3)  # the largest allowed
