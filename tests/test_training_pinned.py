"""Pinned results of tiny fits: the values below were computed with ``cogvision.training.fit`` as it was before
the loop was split into a loop state, an epoch function and an early-stopping helper (commit 4e152b8), on
the CPU. The refactor must reproduce them (it did exactly, bit for bit, on the machine that wrote them; the
tolerance only absorbs last-bit differences between CPUs' float32 kernels, far below what a change in the
loop -- another batch order, a missed scheduler step, a lost weight decay -- would shift).
"""

import torch

from cogvision.training import fit
from tests.helpers import batch_mse, regression_problem, small_mlp

A_LOSS = [
    12.192375818888346, 9.870004177093506, 10.381794293721518, 9.549526532491049, 8.335508028666178,
    10.361794153849283,
]

A_VAL = [
    11.464595794677734, 10.62159538269043, 10.047253608703613, 9.264311790466309, 8.79791259765625,
    8.281782150268555,
]

A_LR = [
    0.05, 0.025, 0.025, 0.0125, 0.0125, 0.00625,
]

A_WEIGHTS = [
    -0.053687646985054016, -0.4921020269393921, -0.013754284009337425, -0.15796613693237305,
    0.4671798050403595, -0.0768619030714035, 0.4717569351196289, -0.2037181407213211, 0.10708781331777573,
    -0.01996547542512417, -0.4582582116127014, 0.7329570651054382, -0.021423114463686943,
    -0.1893107146024704, -0.266302227973938, 0.0581689178943634, -0.4821142554283142, 0.3213046193122864,
    0.4462622106075287, 0.4049054980278015, 0.4652218818664551, -0.04079844430088997, 0.40517085790634155,
    0.1469976305961609, 0.46591711044311523, -0.2785913050174713, -0.4391915500164032, 0.38064494729042053,
    -0.0915265679359436,
]

B_LOSS = [
    12.079622650146485, 8.721902418136597, 5.593878650665284,
]

B_WEIGHTS = [
    0.43310290575027466, -1.075266718864441, 0.012531750835478306, 0.08458918333053589, 1.2607866525650024,
    -0.5232715010643005, 1.1356769800186157, -0.037636835128068924, 0.1065196618437767, -0.46757617592811584,
    -0.1560315042734146, 0.9554196000099182, -0.05381164327263832, -0.16881199181079865, -0.7478097081184387,
    0.41105711460113525, -0.6799824237823486, 0.022108349949121475, -0.12070625275373459, 0.9134731292724609,
    0.5640743374824524, -0.15732915699481964, 0.5223903059959412, 0.5291708111763, 0.9767827391624451,
    -0.7716345191001892, -1.3880354166030884, 1.3453953266143799, -0.6190239787101746,
]

C_LOSS = [
    11.103185176849365, 6.954477691650391, 5.091935110092163,
]

C_VAL = [
    3.1083996295928955, 2.8556854724884033, 5.200111389160156,
]

C_WEIGHTS = [
    1.1251949071884155, -1.9742004871368408, 1.4417897462844849, 0.8069044947624207, 0.7161082625389099,
    0.012139275670051575, 1.6713587045669556, 0.8564273118972778, 0.8835263848304749, -1.3315225839614868,
    -0.5201150178909302, 1.0423409938812256, 0.3582119047641754, -0.16733743250370026, -1.7054870128631592,
    -1.4591891765594482, 0.35911428928375244, 1.7529956102371216, -0.41371530294418335, -0.9247099757194519,
    1.3319345712661743, -0.31178247928619385, 0.2741004228591919, -0.8104811310768127, 0.5762261152267456,
    -0.5680972337722778, -1.0717151165008545, -0.2261650115251541, 1.0992155075073242,
]


def _problem():
    return regression_problem(seed=7, n=40, noise=0.1, n_val=12)


def _model():
    return small_mlp(seed=11, hidden=4, dropout=0.25)


def _close(actual, expected):
    torch.testing.assert_close(torch.as_tensor(actual, dtype=torch.float64),
                               torch.as_tensor(expected, dtype=torch.float64), rtol=1e-5, atol=1e-7)


def _weights(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()]).tolist()


def test_default_optimizer_scheduler_clipping_and_validation_are_pinned():
    train, val = _problem()
    model = _model()
    result = fit(model, train, batch_mse, epochs=6, batch_size=16, lr=0.05, weight_decay=0.01,
                 scheduler=lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=2, gamma=0.5),
                 val_metric=val, patience=2, grad_clip=1.0, seed=3, progress=False)
    _close(result.history.train_loss.tolist(), A_LOSS)
    _close(result.history.val_metric.tolist(), A_VAL)
    assert result.history.lr.tolist() == A_LR
    assert (result.best_epoch, result.stopped_early) == (5, False)
    _close(result.best_metric, A_VAL[5])
    _close(_weights(model), A_WEIGHTS)


def test_optimizer_factory_without_validation_is_pinned():
    train, _ = _problem()
    model = _model()
    result = fit(model, train, batch_mse, epochs=3, batch_size=8, seed=1, progress=False,
                 optimizer=lambda m: torch.optim.SGD(m.parameters(), lr=0.02, momentum=0.9))
    _close(result.history.train_loss.tolist(), B_LOSS)
    assert result.history.lr.tolist() == [0.02] * 3
    assert (result.best_epoch, result.best_metric, result.stopped_early) == (2, None, False)
    _close(_weights(model), B_WEIGHTS)


def test_early_stop_and_best_restore_are_pinned():
    train, val = _problem()
    model = _model()
    result = fit(model, train, batch_mse, epochs=8, batch_size=8, lr=0.3, val_metric=val, patience=1, seed=5,
                 progress=False)
    _close(result.history.train_loss.tolist(), C_LOSS)
    _close(result.history.val_metric.tolist(), C_VAL)
    assert (result.best_epoch, result.stopped_early) == (1, True)
    _close(_weights(model), C_WEIGHTS)  # the weights of epoch 1, restored
