"""Fig. 8 of the paper: the teacher's user-outfit space, and whether the negatives it places among a user's
positives are in fact to that user's taste.

The paper shows (t-SNE) three users with their training positives and sampled training negatives, and argues
that negatives close to a user share the style of the user's positives, so they may be false negatives: the
intuition of FND. On a synthetic dataset the generator's world knows every user's true preference, so the
argument can be checked, not only looked at:

* for each chosen user, random training negatives are drawn as training draws them (the plugin's sampler,
  shaped like the user's positives);
* a negative the model places **among the positives** scores at least the median of the user's training
  positives (cosine score, Eq. 9); the others are "other negatives";
* the true preference (:meth:`~recbole_outfit.data.synthetic.FolderWorld.true_preference`, through the oracle
  teacher's mapping) of the positives, of the negatives among them and of the other negatives, averaged per
  user; a negative that is one of the user's test positives is a false negative found in the test set (the
  paper's dashed squares).

The page gives these means (and the share of false negatives), the claim's verdict (negatives near the user
above the other negatives in true preference) and the t-SNE picture.
"""

import os

import numpy as np
import torch
import torch.nn.functional as F

from recbole_outfit.atomic import atomic_write
from recbole_outfit.config import Config
from recbole_outfit.data.sampler import OutfitNegativeSampler
from recbole_outfit.errors import ConfigError
from recbole_outfit.experiments import compare
from recbole_outfit.experiments.paper_page import claims_section, header, judge, run_settings
from recbole_outfit.experiments.paper_spec import TSNE_ROWS, Run
from recbole_outfit.model.oracle import OracleTeacher
from recbole_outfit.pipeline import STAGES
from recbole_outfit.pipeline.stages import TeacherStage
from recbole_outfit.plots.draw import tsne_map
from recbole_outfit.recommend.recommender import load_recommender
from recbole_outfit.report import format_table, write_json_atomic

POSITIVES, NEAR, OTHER = TSNE_ROWS


def trained_checkpoint(spec, dataset, seed, settings):
    """The checkpoint of the spec's model on ``dataset`` (trained now or reused from the finished-run cache;
    ``Teacher``: the teacher stage's)."""
    model = spec["model"]
    result = compare.run_model(model, dataset, seed, None, settings)
    if model == "Teacher":
        config = Config("FNDCL", dataset, config_dict={**settings, "seed": seed}, command_line=False)
        return STAGES["teacher"].artifact_path(config)
    return result["checkpoint"]


@torch.no_grad()
def user_space(rec, oracle, sampler, user):
    """One user's positives and sampled negatives: garments, model scores, true preferences, and which
    negatives are among the positives or are test positives."""
    model, uid = rec.model, rec.user_id(user)
    known = torch.tensor([rec.outfit_id(o) for o in rec.known_outfits(user)])
    positives = rec.outfit_garments[known]  # [P, L]
    negatives = sampler.sample(torch.full((len(known),), uid), positives).flatten(0, 1)  # [P * n, L]
    held_out = [rec.outfit_id(o) for o in rec.held_out_outfits(user)]
    test_sets = {frozenset(g for g in rec.outfit_garments[i].tolist() if g > 0) for i in held_out}
    device = rec.device
    u = F.normalize(model.user_embedding.weight[uid], dim=-1)  # [d]
    def encode(garments):  # [M, L] -> cosine scores [M] and unit vectors [M, d]
        vectors = F.normalize(torch.cat([model.encode_outfits(p.to(device)) for p in garments.split(512)]), dim=-1)
        return (vectors @ u).cpu().numpy(), vectors.cpu().numpy()
    pos_scores, pos_vectors = encode(positives)
    neg_scores, neg_vectors = encode(negatives)
    truth = lambda outfits: oracle.user_scores(torch.full((len(outfits),), uid), outfits).cpu().numpy()
    near = neg_scores >= np.median(pos_scores)
    false_negative = np.array([frozenset(g for g in row.tolist() if g > 0) in test_sets for row in negatives])
    return {"pos_truth": truth(positives), "neg_truth": truth(negatives), "near": near,
            "false_negative": false_negative, "user_vector": u.cpu().numpy(), "pos_vectors": pos_vectors,
            "neg_vectors": neg_vectors}


def tsne_page(spec, seeds, command, out_dir, gpu_id=None):
    dataset, seed = spec["datasets"][0], seeds[0]
    settings = run_settings(spec, Run(label=spec["model"], model=spec["model"]), dataset, gpu_id)
    rec = load_recommender(trained_checkpoint(spec, dataset, seed, settings))
    if not rec.config["synthetic"]:
        raise ConfigError("Fig. 8's check needs the true preferences of a synthetic dataset", where=spec.path,
                          fix="use a synthetic* dataset in datasets:")
    oracle = OracleTeacher(TeacherStage.world(rec.config), rec.dataset, alpha=1.0)
    sampler = OutfitNegativeSampler(rec.train_data._dataset, num=int(spec.get("negatives_per_positive", 4)),
                                    rng=np.random.default_rng(seed))
    rng = np.random.default_rng(seed)
    candidates = [u for u in rec.users() if rec.known_outfits(u)]
    chosen = [candidates[i] for i in sorted(rng.choice(len(candidates), size=min(int(spec.get("users", 3)),
                                                                              len(candidates)), replace=False))]
    spaces = {user: user_space(rec, oracle, sampler, user) for user in chosen}
    per_user = {POSITIVES: [], NEAR: [], OTHER: []}
    table, false_negatives = [], 0
    for user, space in spaces.items():
        near, truth = space["near"], space["neg_truth"]
        means = [space["pos_truth"].mean(), truth[near].mean() if near.any() else np.nan,
                 truth[~near].mean() if (~near).any() else np.nan]
        for row, value in zip(TSNE_ROWS, means):
            if not np.isnan(value):
                per_user[row].append(float(value))
        false_negatives += int(space["false_negative"].sum())
        table.append([user, f"{means[0]:.2f}", f"{means[1]:.2f} ({near.sum()})", f"{means[2]:.2f} ({(~near).sum()})",
                      int(space["false_negative"].sum())])
    summary = {row: {"runs": len(values), "true_preference": (float(np.mean(values)), float(np.std(values)))}
               for row, values in per_user.items() if values}
    claims = judge(spec, {dataset: summary})
    picture = os.path.join(out_dir, f"{spec.name}.png")
    draw_space(spaces, picture, seed, title=f"{rec.config['model']} on {dataset}: users, positives, training negatives")
    body = ["## True preference (the generator's), mean per user", "",
            format_table(["user", POSITIVES, f"{NEAR} (count)", f"{OTHER} (count)", "negatives that are test positives"],
                         table), "",
            f"A negative is among the positives when the model scores it at least the median of the user's training "
            f"positives. Negatives that are one of the user's test positives (false negatives found in the test set, "
            f"the paper's dashed squares): {false_negatives}.", "", f"![{spec['title']}]({spec.name}.png)", ""]
    os.makedirs(out_dir, exist_ok=True)
    markdown = "\n".join(header(spec, [seed], command) + claims_section(claims) + body)
    with atomic_write(os.path.join(out_dir, f"{spec.name}.md")) as f:
        f.write(markdown)
    with atomic_write(os.path.join(out_dir, f"{spec.name}.csv")) as f:
        f.write("user,positives,near_negatives,other_negatives,false_negatives\n")
        f.writelines(",".join(str(c).split(" ")[0] for c in row) + "\n" for row in table)
    write_json_atomic(os.path.join(out_dir, f"{spec.name}.json"), {
        "name": spec.name, "title": spec["title"], "seeds": [seed], "command": command, "claims": claims,
        "summaries": {dataset: summary}})
    return claims


def draw_space(spaces, path, seed, title):
    """t-SNE (scikit-learn) of the chosen users, their positives and their sampled negatives."""
    try:
        from sklearn.manifold import TSNE
    except ImportError as error:
        raise ConfigError("the t-SNE picture needs scikit-learn", where="fig8",
                          fix='pip install "recbole-outfit[plot]"') from error
    rows, kinds, owners = [], [], []
    for owner, space in enumerate(spaces.values()):
        rows.append(space["user_vector"])
        kinds.append("user")
        owners.append(owner)
        for vector in space["pos_vectors"]:
            rows.append(vector)
            kinds.append("positive")
            owners.append(owner)
        for vector, near, false in zip(space["neg_vectors"], space["near"], space["false_negative"]):
            rows.append(vector)
            kinds.append("false_negative" if false else ("near_negative" if near else "negative"))
            owners.append(owner)
    points = np.asarray(rows, dtype=np.float64)  # unit vectors (users too): closeness follows the cosine score
    points /= np.linalg.norm(points, axis=1, keepdims=True).clip(1e-12)
    perplexity = float(min(30, max(2, (len(points) - 1) // 3)))
    embedded = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(points)
    return tsne_map(embedded, kinds, owners, path, title=title, user_names=list(spaces))
