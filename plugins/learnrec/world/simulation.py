"""Day-by-day behaviour of the learner population, vectorised over learners.

Each simulated day, every signed-up learner who has not dropped out may start up to three
sessions; a session either continues the course in progress or discovers a new one (search,
click, then enrol or skip). Watching advances through modules; finishing a course emits
``complete`` and a graded quiz, raises the learner's latent skills and may leave a rating.

The dynamics the pipeline has to learn from:

* **funnels**: search -> click -> watch -> complete, with skips where the course does not fit;
* **quiz scores** rise with the learner's skill minus the course's difficulty, and fall with
  missing prerequisite skills (which also make learners abandon courses);
* **long-tail popularity**: courses are found through a Zipf-like popularity within each skill;
* **dropout** is gradual, as real disengagement is: a latent engagement rises with success and
  decays with inactivity. A learner starts *fading* (see :meth:`Simulator._update_engagement`)
  mostly when struggle (skips, abandoned courses) meets low engagement, or when a silence passes
  a few days; a fading learner has sessions less and less often, skips more, abandons more and
  scores lower, and quits for good after a personal number of days unless a success wins them
  back. Independently, a learner who has been silent for longer than their personal patience
  while disengaged is gone. So declining sessions, rising skips, falling quizzes and longer gaps
  precede dropout and predict it, through thresholds and interactions (not a linear score);
* **cold start**: learners sign up throughout the window, the latest with fewer than 10 events.

All state is arrays over learners (and a learners x skills matrix), so a day costs a few numpy
passes whatever the population size.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from learnrec.world.catalog import Catalog
from learnrec.world.learners import Population, session_hour_probabilities, utc_hours
from learnrec.world.taxonomy import Taxonomy

#: Event type codes used inside the world; names as in the contract.
EVENT_TYPE_NAMES = np.array(["click", "watch", "skip", "complete", "search", "quiz_score"])
CLICK, WATCH, SKIP, COMPLETE, SEARCH, QUIZ = range(6)
DAY_MS = 86_400_000
MAX_SESSIONS_PER_DAY = 3
SECOND_SESSION_SHARE = (1.0, 0.35, 0.12)
#: how long a fade lasts before the learner quits (days, inclusive range)
FADE_DAYS = (12, 28)


@dataclass
class DayEvents:
    """Events of one simulated day as parallel arrays (``module`` 0 and ``watch`` -1 mean absent)."""

    learner: np.ndarray  # int32
    course: np.ndarray  # int32
    etype: np.ndarray  # int8
    ts_ms: np.ndarray  # int64 epoch milliseconds
    module: np.ndarray  # int16, 1-based module number; 0: none
    watch: np.ndarray  # int32 seconds; -1: none
    quiz: np.ndarray  # float32; nan: none

    def __len__(self) -> int:
        return len(self.learner)

    def take(self, index: np.ndarray) -> DayEvents:
        return DayEvents(*(getattr(self, f)[index] for f in _FIELDS))

    @staticmethod
    def concat(parts: list[DayEvents]) -> DayEvents:
        if not parts:
            return empty_events()
        return DayEvents(*(np.concatenate([getattr(p, f) for p in parts]) for f in _FIELDS))


_FIELDS = ("learner", "course", "etype", "ts_ms", "module", "watch", "quiz")
_DTYPES = (np.int32, np.int32, np.int8, np.int64, np.int16, np.int32, np.float32)


def empty_events() -> DayEvents:
    return DayEvents(*(np.empty(0, dtype=d) for d in _DTYPES))


@dataclass
class _Emitter:
    parts: list[DayEvents] = field(default_factory=list)

    def emit(
        self,
        learner: np.ndarray,
        course: np.ndarray,
        etype: int,
        ts_ms: np.ndarray,
        module: np.ndarray | None = None,
        watch: np.ndarray | None = None,
        quiz: np.ndarray | None = None,
    ) -> None:
        n = len(learner)
        if n == 0:
            return
        self.parts.append(
            DayEvents(
                learner.astype(np.int32),
                course.astype(np.int32),
                np.full(n, etype, np.int8),
                ts_ms.astype(np.int64),
                np.zeros(n, np.int16) if module is None else module.astype(np.int16),
                np.full(n, -1, np.int32) if watch is None else watch.astype(np.int32),
                np.full(n, np.nan, np.float32) if quiz is None else quiz.astype(np.float32),
            )
        )

    def collect(self) -> DayEvents:
        events = DayEvents.concat(self.parts)
        return events.take(np.argsort(events.ts_ms, kind="stable"))


@dataclass
class Truth:
    """What really happened, for evaluation only (the pipeline never reads it)."""

    dropout_day: np.ndarray  # int32, -1: still active at the end of the horizon
    quiz_rows: list[tuple[np.ndarray, ...]] = field(
        default_factory=list
    )  # learner, course, ts, gap, deficit, score
    ratings: list[tuple[np.ndarray, ...]] = field(default_factory=list)  # learner, course, ts, rating
    engagement_at_window_end: np.ndarray | None = None
    #: hidden dropout state at the window end (fade progress 0..1, days since the last session)
    fade_progress_at_window_end: np.ndarray | None = None
    idle_days_at_window_end: np.ndarray | None = None


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class Simulator:
    def __init__(
        self,
        tax: Taxonomy,
        catalog: Catalog,
        pop: Population,
        *,
        window_start_ms: int,
        days: int,
        horizon_days: int,
        activity: float,
        rng: np.random.Generator,
    ) -> None:
        self.tax, self.cat, self.pop, self.rng = tax, catalog, pop, rng
        self.window_start_ms, self.days, self.horizon_days, self.activity = (
            window_start_ms,
            days,
            horizon_days,
            activity,
        )
        n = pop.n_learners
        self.skills = pop.skills.copy()
        self.engagement = pop.engagement.copy()
        self.alive = np.ones(n, dtype=bool)
        self.fading = np.zeros(n, dtype=bool)
        self.fade_days = np.zeros(n, dtype=np.int16)  # days since the learner started fading
        self.fade_length = np.zeros(n, dtype=np.int16)  # days a fade lasts before the learner quits
        self.idle_days = np.zeros(n, dtype=np.int16)  # days since the last session
        self.strain = np.zeros(n, dtype=np.float32)  # smoothed failures (skips, abandoned courses)
        self.patience = rng.integers(12, 25, n).astype(np.int16)  # silent days a disengaged learner lasts
        self.current = np.full(n, -1, dtype=np.int32)
        self.progress = np.zeros(n, dtype=np.int16)
        self.truth = Truth(dropout_day=np.full(n, -1, dtype=np.int32))
        self.today = 0

        self.prereq = tax.prerequisite_matrix()  # (n_skills, w), -1 padded
        self.prereq_mask = self.prereq >= 0
        self.prereq_safe = np.where(self.prereq_mask, self.prereq, 0)
        self.required_level = 0.5 + 0.5 * tax.levels.astype(np.float32)  # level a prerequisite must reach
        # goal x skill interest: target skills strongly, the rest of the goal's domain a little
        goals = np.zeros((len(tax.goal_names), tax.n_skills), dtype=np.float32)
        for g, (domain, targets) in enumerate(zip(tax.goal_domains, tax.goal_targets, strict=True)):
            goals[g, tax.domains == domain] = 0.15
            goals[g, list(targets)] = 1.0
        self.goal_interest = goals
        # courses grouped by primary skill, for popularity sampling within a skill
        self.by_skill = np.argsort(catalog.primary_skill, kind="stable").astype(np.int32)
        sorted_skill = catalog.primary_skill[self.by_skill]
        self.skill_start = np.searchsorted(sorted_skill, np.arange(tax.n_skills), side="left")
        self.skill_end = np.searchsorted(sorted_skill, np.arange(tax.n_skills), side="right")
        self.hour_p = session_hour_probabilities()
        # learner format (video/text/mixed) x course format (video/text/mixed/live) affinity
        self.format_affinity = np.array(
            [[1.0, 0.0, 0.5, 0.6], [0.0, 1.0, 0.5, 0.1], [0.5, 0.5, 1.0, 0.4]], dtype=np.float32
        )

    # ---------------------------------------------------------------------------------------
    def run(self) -> Iterator[tuple[int, DayEvents]]:
        """Yield ``(day_index, events)`` for the window's days and then the horizon's."""
        for day in range(self.days + self.horizon_days):
            if day == self.days:
                self.truth.engagement_at_window_end = self.engagement.copy()
                self.truth.fade_progress_at_window_end = self._fade_progress().astype(np.float32)
                self.truth.idle_days_at_window_end = self.idle_days.copy()
            yield day, self._simulate_day(day)

    def _simulate_day(self, day: int) -> DayEvents:
        rng, pop = self.rng, self.pop
        self.today = day
        day_ms = self.window_start_ms + day * DAY_MS
        weekday = (day_ms // DAY_MS + 3) % 7  # 0 = Monday
        weekday_factor = 0.8 if weekday >= 5 else 1.0
        eligible = self.alive & (pop.signup_day <= day)
        p_session = np.clip(
            pop.base_rate
            * (0.15 + 0.85 * self.engagement)
            * (1.0 - 0.8 * self._fade_progress())
            * weekday_factor
            * self.activity,
            0,
            0.97,
        )
        p_session[pop.signup_day == day] = 0.9  # a learner signing up starts a first session that day

        emitter = _Emitter()
        had_session = np.zeros(pop.n_learners, dtype=bool)
        outcome = np.zeros(pop.n_learners, dtype=np.float32)  # the day's successes minus failures
        clock_end = np.full(pop.n_learners, day_ms, dtype=np.int64)
        for round_ in range(MAX_SESSIONS_PER_DAY):
            draws = rng.random(pop.n_learners)
            in_round = eligible & (draws < p_session * SECOND_SESSION_SHARE[round_])
            if round_ > 0:
                in_round &= had_session & (clock_end < day_ms + DAY_MS - 3_600_000)
            learners = np.flatnonzero(in_round).astype(np.int32)
            if len(learners) == 0:
                break
            local_hour = rng.choice(24, size=len(learners), p=self.hour_p).astype(np.float32)
            start = day_ms + (utc_hours(local_hour, pop.tz_offset_hours[learners]) * 3_600_000).astype(
                np.int64
            )
            start += rng.integers(0, 3_600_000, len(learners))
            if round_ > 0:
                start = np.maximum(start, clock_end[learners] + 20 * 60_000)
            ends = self._session(learners, start, emitter, outcome)
            clock_end[learners] = ends
            had_session[learners] = True

        self._update_engagement(eligible, had_session, outcome, day)
        return emitter.collect()

    # ---------------------------------------------------------------------------------------
    def _session(
        self, learners: np.ndarray, clock: np.ndarray, em: _Emitter, outcome: np.ndarray
    ) -> np.ndarray:
        rng, cat = self.rng, self.cat
        clock = clock.copy()
        fade = self._fade_progress(learners)  # fading learners browse, skip and watch less
        continuing = (self.current[learners] >= 0) & (rng.random(len(learners)) < 0.8 * (1.0 - 0.6 * fade))

        # --- discovery: search (sometimes), click, then enrol or skip -----------------------
        disc = np.flatnonzero(~continuing)
        chosen = self._choose_courses(learners[disc])
        found = chosen >= 0
        disc, chosen = disc[found], chosen[found]
        lrn = learners[disc]
        searched = rng.random(len(disc)) < 0.55
        em.emit(lrn[searched], chosen[searched], SEARCH, clock[disc][searched])
        clock[disc[searched]] += rng.integers(5_000, 40_000, int(searched.sum()))
        em.emit(lrn, chosen, CLICK, clock[disc])
        clock[disc] += rng.integers(5_000, 30_000, len(disc))
        fit = self._fit(lrn, chosen)
        p_enrol = _sigmoid(
            0.2
            + 1.5 * fit["difficulty_fit"]
            + 1.2 * fit["format"]
            + 1.5 * (cat.quality[chosen] - 0.7)
            - 0.6 * fit["deficit"]
            - 1.5 * fade[disc]
        )
        enrol = rng.random(len(disc)) < p_enrol
        em.emit(lrn[~enrol], chosen[~enrol], SKIP, clock[disc[~enrol]])
        clock[disc[~enrol]] += rng.integers(3_000, 20_000, int((~enrol).sum()))
        outcome[lrn[~enrol]] -= 0.1
        self.current[lrn[enrol]] = chosen[enrol]
        self.progress[lrn[enrol]] = 0

        # --- watching: continue the current course -------------------------------------------
        watchers = np.concatenate([np.flatnonzero(continuing), disc[enrol]])
        lrn = learners[watchers]
        course = self.current[lrn]
        fit = self._fit(lrn, course)
        # abandonment (only of courses already under way): missing prerequisites, too hard, bad fit
        p_abandon = (
            0.02
            + 0.12 * np.minimum(fit["deficit"], 2.0)
            + 0.05 * np.maximum(fit["gap"] - 1.0, 0.0)
            + 0.05 * (1.0 - fit["format"])
            + 0.08 * (1.0 - cat.quality[course])
        ) * (1.3 - self.engagement[lrn] + self._fade_progress(lrn))
        abandon = (self.progress[lrn] > 0) & (rng.random(len(lrn)) < p_abandon)
        em.emit(
            lrn[abandon],
            course[abandon],
            SKIP,
            clock[watchers[abandon]],
            module=self.progress[lrn[abandon]] + 1,
        )
        outcome[lrn[abandon]] -= 0.5
        self.current[lrn[abandon]] = -1
        keep = ~abandon
        watchers, lrn, course = watchers[keep], lrn[keep], course[keep]
        fit = {k: v[keep] for k, v in fit.items()}

        remaining = cat.n_modules[course] - self.progress[lrn]
        fade = self._fade_progress(lrn)
        n_watch = np.minimum(1 + rng.binomial(2, 0.45 * (1.0 - fade)), remaining)
        share_base = np.clip(
            rng.beta(2.0 + 3.0 * self.engagement[lrn], 1.3)
            * (0.8 + 0.2 * fit["format"])
            * (1.0 - 0.5 * fade),
            0.05,
            1.0,
        )
        for j in range(int(n_watch.max(initial=0))):
            m = np.flatnonzero(n_watch > j)
            module = self.progress[lrn[m]] + 1 + j
            minutes = cat.module_minutes[course[m], module - 1].astype(np.float32)
            share = np.clip(share_base[m] + rng.normal(0, 0.08, len(m)), 0.05, 1.0)
            seconds = np.maximum(1, (minutes * 60 * share)).astype(np.int32)
            em.emit(lrn[m], course[m], WATCH, clock[watchers[m]], module=module, watch=seconds)
            clock[watchers[m]] += seconds.astype(np.int64) * 1000 + rng.integers(5_000, 60_000, len(m))
            last = module >= cat.n_modules[course[m]]
            quizzed = m[(~last) & (rng.random(len(m)) < 0.2)]
            if len(quizzed):
                scores = self._quiz(lrn[quizzed], course[quizzed], clock[watchers[quizzed]])
                em.emit(
                    lrn[quizzed],
                    course[quizzed],
                    QUIZ,
                    clock[watchers[quizzed]],
                    module=self.progress[lrn[quizzed]] + 1 + j,
                    quiz=scores,
                )
                clock[watchers[quizzed]] += rng.integers(60_000, 300_000, len(quizzed))
        self.progress[lrn] += n_watch.astype(np.int16)
        outcome[lrn] += 0.05 * n_watch

        done = np.flatnonzero(self.progress[lrn] >= cat.n_modules[course])
        if len(done):
            d_lrn, d_course = lrn[done], course[done]
            em.emit(d_lrn, d_course, COMPLETE, clock[watchers[done]])
            clock[watchers[done]] += rng.integers(5_000, 30_000, len(done))
            scores = self._quiz(d_lrn, d_course, clock[watchers[done]])
            em.emit(d_lrn, d_course, QUIZ, clock[watchers[done]], quiz=scores)
            clock[watchers[done]] += rng.integers(60_000, 300_000, len(done))
            self._learn(d_lrn, d_course, scores)
            self._rate(d_lrn, d_course, scores, fit["format"][done], clock[watchers[done]])
            outcome[d_lrn] += 0.4 + 0.4 * (scores / 100.0 - 0.6)
            self.current[d_lrn] = -1
        return clock

    # ---------------------------------------------------------------------------------------
    def _prereq_deficit(self, learners: np.ndarray, skill: np.ndarray) -> np.ndarray:
        """How far a learner falls short of the prerequisite skills of ``skill`` (0: ready)."""
        pre = self.prereq_safe[skill]  # (m, w)
        have = self.skills[learners[:, None], pre]
        short = np.maximum(self.required_level[pre] - have, 0.0) * self.prereq_mask[skill]
        return short.sum(axis=1)

    def _fit(self, learners: np.ndarray, course: np.ndarray) -> dict[str, np.ndarray]:
        cat = self.cat
        skill = cat.primary_skill[course]
        level = self.skills[learners, skill]
        gap = cat.difficulty[course] - level  # > 1: harder than the learner's next step
        return {
            "gap": gap,
            "difficulty_fit": -np.abs(gap - 1.0) / 2.0,
            "format": self.format_affinity[self.pop.fmt[learners], cat.fmt[course]],
            "deficit": self._prereq_deficit(learners, skill),
        }

    def _quiz(self, learners: np.ndarray, course: np.ndarray, ts: np.ndarray) -> np.ndarray:
        skill = self.cat.primary_skill[course]
        gap = self.skills[learners, skill] - self.cat.difficulty[course]  # learner minus course
        deficit = self._prereq_deficit(learners, skill)
        noise = self.rng.normal(0.0, 0.45, len(learners))
        score = 100.0 * _sigmoid(
            1.1 * (gap + 1.3) - 0.8 * deficit + 0.8 * (self.engagement[learners] - 0.5) + noise
        )
        score = np.round(score, 1).astype(np.float32)
        self.truth.quiz_rows.append(
            (
                learners.copy(),
                course.copy(),
                ts.copy(),
                gap.astype(np.float32),
                deficit.astype(np.float32),
                score,
            )
        )
        return score

    def _learn(self, learners: np.ndarray, course: np.ndarray, scores: np.ndarray) -> None:
        """Completion raises the course's skills (the primary one most), more for better scores."""
        gain = 0.4 + 0.9 * scores / 100.0
        for position in range(max(len(t) for t in self.cat.skill_tags)):
            has = np.array([len(self.cat.skill_tags[c]) > position for c in course])
            if not has.any():
                break
            rows = learners[has]
            skill = np.array([self.cat.skill_tags[c][position] for c in course[has]])
            factor = 1.0 if position == 0 else 0.5
            self.skills[rows, skill] = np.minimum(5.0, self.skills[rows, skill] + factor * gain[has])

    def _rate(
        self,
        learners: np.ndarray,
        course: np.ndarray,
        scores: np.ndarray,
        fmt_fit: np.ndarray,
        ts: np.ndarray,
    ) -> None:
        rates = self.rng.random(len(learners)) < 0.35
        raw = 1.0 + 4.0 * (0.5 * self.cat.quality[course] + 0.3 * scores / 100.0 + 0.2 * fmt_fit)
        rating = np.clip(np.round(raw + self.rng.normal(0, 0.6, len(learners))), 1, 5).astype(np.int8)
        self.truth.ratings.append((learners[rates], course[rates], ts[rates] + 60_000, rating[rates]))

    def _choose_courses(self, learners: np.ndarray) -> np.ndarray:
        """Pick a course per learner: a skill by interest, need and readiness, then a course of that
        skill by popularity among a few candidates, by fit. -1 where nothing is published yet."""
        if len(learners) == 0:
            return np.empty(0, dtype=np.int32)
        rng, cat, pop = self.rng, self.cat, self.pop
        published = cat.published_day <= self.today
        pop_sorted = np.where(published[self.by_skill], cat.popularity[self.by_skill], 0.0)
        cum = np.concatenate([[0.0], np.cumsum(pop_sorted)])
        skill_mass = cum[self.skill_end] - cum[self.skill_start]

        skills = self.skills[learners]  # (m, n_skills)
        have = skills[:, self.prereq_safe]  # (m, n_skills, w)
        short = np.maximum(self.required_level[self.prereq_safe] - have, 0.0) * self.prereq_mask
        readiness = np.exp(-1.5 * short.sum(axis=2))
        need = np.clip((4.5 - skills) / 4.5, 0.05, 1.0)
        interest = self.goal_interest[pop.goal[learners]]
        rows = np.arange(len(learners))
        for k in range(pop.side_interests.shape[1]):
            interest[rows, pop.side_interests[learners, k]] += 0.6
        weights = interest * need * readiness * (skill_mass > 0)
        totals = weights.sum(axis=1)
        cumw = np.cumsum(weights, axis=1)
        pick = (cumw < (rng.random(len(learners)) * totals)[:, None]).sum(axis=1)
        skill = np.minimum(pick, self.tax.n_skills - 1)

        n_candidates = 5
        lo, hi = cum[self.skill_start[skill]], cum[self.skill_end[skill]]
        u = lo[:, None] + rng.random((len(learners), n_candidates)) * (hi - lo)[:, None]
        pos = np.searchsorted(cum, u, side="right") - 1
        pos = np.clip(
            pos, self.skill_start[skill][:, None], np.maximum(self.skill_end[skill] - 1, 0)[:, None]
        )
        candidates = self.by_skill[pos]  # (m, K)
        level = skills[rows, skill][:, None]
        score = (
            -0.7 * np.abs(cat.difficulty[candidates] - (level + 1.0))
            + 0.6 * self.format_affinity[pop.fmt[learners][:, None], cat.fmt[candidates]]
            + 0.8 * cat.quality[candidates]
            + rng.gumbel(0.0, 0.6, candidates.shape)
            - 5.0 * (candidates == self.current[learners][:, None])
        )
        chosen = candidates[rows, np.argmax(score, axis=1)].astype(np.int32)
        chosen[(totals <= 0) | ~published[chosen]] = -1
        return chosen

    def _fade_progress(self, learners: np.ndarray | None = None) -> np.ndarray:
        """0 for learners not fading, rising to 1 as a fading learner nears quitting."""
        rows = slice(None) if learners is None else learners
        length = np.maximum(self.fade_length[rows], 1).astype(np.float32)
        return np.where(self.fading[rows], np.minimum(self.fade_days[rows] / length, 1.0), 0.0)

    def _update_engagement(
        self, eligible: np.ndarray, had_session: np.ndarray, outcome: np.ndarray, day: int
    ) -> None:
        """Engagement, the onset and course of fading, and dropout, after the day's sessions.

        Onset of fading (daily hazard) is an interaction, not a sum: struggle raises it only in
        a learner whose engagement is already low (newcomers most), and a silence raises it only
        once it passes a few days. A fade lasts a personal ``FADE_DAYS`` days, during which
        engagement drains and sessions thin out; a success may win the learner back. Dropout is
        the end of a fade, or a silence longer than the learner's patience while disengaged, or
        (rarely) a life event that gives no warning. Long fades are what make dropout visible
        in advance: most learners who quit within two weeks were already fading.
        """
        rng, e = self.rng, self.engagement
        n = len(e)
        active = eligible & had_session
        idle = eligible & ~had_session
        e[active] = 0.85 * e[active] + 0.15 * np.clip(0.55 + outcome[active], 0.0, 1.0)
        e[idle] = np.maximum(0.0, 0.99 * e[idle] - 0.008)
        self.idle_days[active] = 0
        self.idle_days[idle] += 1
        failures = np.clip(-outcome, 0.0, 1.0)
        self.strain[active] = 0.8 * self.strain[active] + 0.2 * failures[active]
        self.strain[idle] *= 0.97

        low = 1.0 - e
        newcomer = np.clip(1.0 - (day - self.pop.signup_day) / 14.0, 0.0, 1.0)  # 1 on signup day
        onset = (
            0.002
            + 0.2 * (self.strain > 0.12) * low**2 * (0.5 + newcomer)
            + 0.1 * (self.idle_days >= 4) * low**3
        )
        starts = eligible & ~self.fading & (rng.random(n) < onset)
        self.fading |= starts
        self.fade_days[starts] = 0
        self.fade_length[starts] = rng.integers(FADE_DAYS[0], FADE_DAYS[1] + 1, int(starts.sum()))

        # a success can win a fading learner back
        won_back = eligible & self.fading & (outcome > 0.5) & (rng.random(n) < 0.3)
        self.fading[won_back] = False
        fading = eligible & self.fading
        self.fade_days[fading] += 1
        e[fading] = np.maximum(0.0, e[fading] * 0.95 - 0.01)

        drops = eligible & (
            (fading & (self.fade_days >= self.fade_length))
            | ((self.idle_days > self.patience) & (e < 0.25))
            | (rng.random(n) < 0.0005)
        )
        self.alive[drops] = False
        self.current[drops] = -1
        self.truth.dropout_day[drops] = day
