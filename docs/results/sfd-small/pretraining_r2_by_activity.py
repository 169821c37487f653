"""Diagnostic behind docs/sfd.md: R² (against the training-mean predictor) of the pretrained SFD predictors
on the louder and the quieter half of the validation frames. Usage: python pretraining_r2_by_activity.py RUN
(a finished `spatialrep experiment sfd --scale small` folder); writes pretraining_r2_by_activity.json."""
import json, numpy as np, torch
torch.set_num_threads(1)
from spatialrep.data.datasets import ManifestDataset, collate_examples
from spatialrep.train import make_loader
from spatialrep.methods import load_model
import sys
out = sys.argv[1] if len(sys.argv) > 1 else "runs/sfd-small"
res = {}
for target in ["gcc_phat", "gcc_phat-instance", "ipd_ild", "gcc"]:
    model = load_model(f"{out}/pretrain/{target}/seed0/best").eval()
    cfg = model.config
    fe = cfg.frontend
    def collect(split, predict):
        ds = ManifestDataset(f"{out}/data", split=split, signals=("noisy", "clean_direct"))
        loader = make_loader(ds, batch_size=32, shuffle=False, collate_fn=collate_examples)
        T, P, E = [], [], []
        with torch.no_grad():
            for b in loader:
                t = cfg.target(b["clean_direct"], fe)
                T.append(t.reshape(-1, t.shape[-1]).double().numpy())
                if predict:
                    p = model(fe(b["noisy"])); P.append(p.reshape(-1, p.shape[-1]).double().numpy())
                x = b["clean_direct"]  # (B, 2, N): frame energy with the front-end's framing
                hop, win = fe.hop_length, fe.win_length
                n = t.shape[1]
                e = torch.stack([x[..., i*hop:i*hop+win].pow(2).mean(dim=(-1, -2)) for i in range(n)], dim=1)
                E.append(e.reshape(-1).double().numpy())
        return np.concatenate(T), (np.concatenate(P) if P else None), np.concatenate(E)
    Ttr, _, _ = collect("train", False)
    mean = Ttr.mean(0)
    T, P, E = collect("val", True)
    db = 10*np.log10(E/ E.max() + 1e-12)
    # split the validation frames at their median clean direct-path energy
    thr = np.percentile(db, 50)
    out_t = {}
    for name, m in [("all", np.ones_like(db, bool)), ("loud half", db >= thr), ("quiet half", db < thr)]:
        mse = ((T[m]-P[m])**2).mean(); ref = ((T[m]-mean)**2).mean()
        out_t[name] = {"r2": 1 - mse/ref, "share_of_mean_mse": float(((T[m]-mean)**2).sum()/((T-mean)**2).sum())}
    res[target] = out_t
    print(target, json.dumps(out_t))
json.dump(res, open("pretraining_r2_by_activity.json", "w"), indent=1)
