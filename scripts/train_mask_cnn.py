"""Train S3's binary-mask CNN, one model per source (vocals, drums, bass, other).

Sample mode (default): the 8 bundled training songs (7 s each, 22.05 kHz), mask_cnn.SAMPLE_CONFIG
(n_fft 1024 / hop 256 -> 513 bins, 25-frame context windows, T = 0.5), the songs plus --remixes new
mixtures of their stems (datasets.remix_tracks), every --frame-step-th centre frame of every channel,
Adam 1e-3, batch 64, the 1-bins weighted by --positive-weight, one CPU thread,
deterministic; writes weights/mask_cnn_sample_<source>.npz. Two processes can train two sources side by side:

    python scripts/train_mask_cnn.py --sources vocals,drums & python scripts/train_mask_cnn.py --sources bass,other

Full mode (`--full`): MUSDB18's training songs at 44.1 kHz (mask_cnn.FULL_CONFIG); every window of every
song does not fit in memory, so --songs and --frame-step choose how many (GPU recommended).

    python scripts/train_mask_cnn.py --full --musdb-root /data/MUSDB18 --songs 40 --frame-step 8 --out weights/full
"""
import sys
import time
from pathlib import Path

import training_cli

sys.path.insert(0, str(training_cli.ROOT))

from course_utils import datasets, mask_cnn, runtime  # noqa: E402


def parse_args(argv=None):
    parser = training_cli.parser(__doc__, "MUSDB18 at 44.1 kHz (needs a GPU and much memory)")
    parser.add_argument("--sources", default=",".join(mask_cnn.SOURCES), help="comma-separated sources")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--remixes", type=int,
                        help="extra training mixtures made from the songs' stems (default: 40 sample, 0 full)")
    parser.add_argument("--frame-step", type=int, default=6, help="keep every n-th centre frame (S3: 1)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--positive-weight", type=float, default=2.0,
                        help="weight of the 1-bins in the cross-entropy (1: S3's plain loss)")
    args = parser.parse_args(argv)
    args.source_list = [s.strip() for s in args.sources.split(",") if s.strip()]
    unknown = sorted(set(args.source_list) - set(mask_cnn.SOURCES))
    if unknown or not args.source_list:
        parser.error(f"--sources: {unknown or 'none given'}; choose from {', '.join(mask_cnn.SOURCES)}")
    training_cli.check_positive(parser, args, "epochs", "frame_step", "batch_size", "threads", "songs")
    args.remixes = (0 if args.full else 40) if args.remixes is None else args.remixes
    if args.remixes < 0:
        parser.error("--remixes must be 0 or more")
    if not 0 < args.lr < 1 or args.positive_weight <= 0:
        parser.error("--lr must be in (0, 1) and --positive-weight > 0")
    return args


def main(argv=None):
    args = parse_args(argv)
    runtime.seed_everything(args.seed, tensorflow=True, threads=args.threads)
    config = mask_cnn.FULL_CONFIG if args.full else mask_cnn.SAMPLE_CONFIG
    db = training_cli.training_db(args)
    songs = [datasets.track_arrays(track) for track in db.tracks[:args.songs]]
    tracks = songs + (datasets.remix_tracks(songs, args.remixes, seed=args.seed) if args.remixes else [])
    print(f"{len(songs)} training songs + {args.remixes} remixes, {sum(len(mix) for mix, _, _ in tracks) / config['sr']:.0f} s "
          f"of audio; every {args.frame_step}. frame, positive weight {args.positive_weight:g}", flush=True)
    for source in args.source_list:
        start = time.time()
        models, histories = mask_cnn.train_models(tracks, config, source, epochs=args.epochs, batch_size=args.batch_size,
                                                  frame_step=args.frame_step, seed=args.seed,
                                                  positive_weight=args.positive_weight, learning_rate=args.lr,
                                                  verbose=2)
        seconds = time.time() - start
        out = Path(args.out) / f"mask_cnn_{'full' if args.full else 'sample'}_{source}.npz"
        out.parent.mkdir(parents=True, exist_ok=True)
        training = {"epochs": args.epochs, "frame_step": args.frame_step, "batch_size": args.batch_size, "lr": args.lr,
                    "positive_weight": args.positive_weight, "seed": args.seed, "songs": len(songs),
                    "remixes": args.remixes,
                    "seconds": round(seconds)}
        mask_cnn.save_weights(models[source], out, source, histories[source], training)
        history = histories[source]
        print(f"{source}: {seconds:.0f} s, final loss {history['loss'][-1]:.4f}, bin accuracy "
              f"{history['bin_accuracy'][-1]:.3f} -> {out} ({out.stat().st_size / 1e6:.2f} MB)", flush=True)


if __name__ == "__main__":
    main()
