"""Pictures where people would rather look than read, drawn off screen with matplotlib as PNG bytes: a 1-D
or 2-D scalar objective's landscape with optimizer paths on it, and a classifier's misclassified examples
and confusion matrix. The trainer saves them beside the run and logs them as TensorBoard images (`log_png`)."""

import io

import numpy as np
from matplotlib.figure import Figure

from trainer.scalar import ScalarProblem


def png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return buffer.getvalue()


def log_png(name: str, data: bytes, step: int) -> None:
    """Log PNG bytes to the default summary writer as the TensorBoard image `name`, as they are:
    `tf.summary.image` would decode them and encode them again (20-40 ms a picture)."""
    import tensorflow as tf
    from tensorboard.plugins.image.metadata import create_summary_metadata

    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")  # the PNG header
    tensor = tf.constant([str(width).encode(), str(height).encode(), data])  # the image plugin's layout
    tf.summary.write(name, tensor, step=step, metadata=create_summary_metadata(display_name=None, description=None))


def objective_at(problem: ScalarProblem, points: np.ndarray) -> np.ndarray:
    """The objective at each row of `points`: one call with a column per variable where the objective is
    written elementwise, as the project's are; else one point at a time, vectorized by TensorFlow."""
    import keras
    import tensorflow as tf

    points = tf.constant(points, keras.config.floatx())
    values = problem.objective(*tf.unstack(points, axis=1))
    if values.shape != points.shape[:1]:
        values = tf.vectorized_map(lambda point: problem.objective(*tf.unstack(point)), points)
    return values.numpy().astype(np.float64)


def view_box(minimum: np.ndarray, paths: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Axis limits around the minimum and the paths. Points further from the minimum than three times
    the farthest start are left off, so that a diverging path does not shrink the others to a dot."""
    starts = [path[0] for path in paths if len(path)]
    reach = 3 * max([np.linalg.norm(start - minimum) for start in starts] + [1e-3])
    points = np.concatenate([minimum[None], *paths])
    points = points[np.all(np.isfinite(points), axis=1) & (np.linalg.norm(points - minimum, axis=1) <= reach)]
    low, high = points.min(axis=0), points.max(axis=0)
    span = max(float((high - low).max()), 1e-3)
    pad = np.maximum(0.1 * span, (0.3 * span - (high - low)) / 2)  # no axis flatter than 0.3 of the other
    return low - pad, high + pad


NAMED_PATHS = 20  # the most paths a landscape names in its legend


def landscape_png(problem: ScalarProblem, paths: dict[str, np.ndarray], title: str) -> bytes:
    """The objective around its minimum (a curve for one variable, log-scaled contours for two) with each
    labelled path of variable values drawn on it, start to end. Beyond `NAMED_PATHS` paths (a sweep's grid),
    they are drawn thin and unnamed: the legend of a 360-job sweep made its picture 3,924 pixels tall and took
    most of its summary's drawing (3 s)."""
    names = list(problem.named_variables)
    named = len(paths) <= NAMED_PATHS
    style = {"marker": "o", "markersize": 3, "linewidth": 1} if named else {"linewidth": 0.6, "alpha": 0.5}
    minimum = np.array(list(problem.minimum.values()))
    low, high = view_box(minimum, list(paths.values()))
    figure = Figure(figsize=(7, 5.5))
    axes = figure.add_subplot()
    if len(names) == 1:
        grid = np.linspace(low[0], high[0], 400)
        curve = objective_at(problem, grid[:, None])
        axes.plot(grid, curve, color="0.3", linewidth=1.5, label="objective")
        for label, path in paths.items():
            axes.plot(path[:, 0], objective_at(problem, path), **style, label=label if named else None)
        if np.ptp(curve) > 0:  # a flat curve (a run that never moved, its box a point) keeps matplotlib's own
            axes.set_ylim(curve.min() - 0.05 * np.ptp(curve), curve.max() + 0.05 * np.ptp(curve))
        axes.set_ylabel("objective")
    else:
        xs, ys = np.linspace(low[0], high[0], 160), np.linspace(low[1], high[1], 160)
        grid_x, grid_y = np.meshgrid(xs, ys)
        values = objective_at(problem, np.stack([grid_x.ravel(), grid_y.ravel()], axis=1)).reshape(grid_x.shape)
        filled = axes.contourf(grid_x, grid_y, np.log1p(values - values.min()), levels=30, cmap="viridis")
        figure.colorbar(filled, ax=axes, label="log(1 + objective - its least value here)")
        for label, path in paths.items():
            axes.plot(path[:, 0], path[:, 1], **style, label=label if named else None)
        axes.plot(
            *minimum, marker="*", markersize=14, color="white", markeredgecolor="black", linestyle="", label="minimum"
        )
        axes.set_ylim(low[1], high[1])
        axes.set_ylabel(names[1])
    axes.set_xlim(low[0], high[0])
    axes.set_xlabel(names[0])
    axes.set_title(title if named else f"{title} (too many paths to name)")
    axes.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.12), ncols=2)  # below: paths stay visible
    return png(figure)


def misclassified_png(images, labels: np.ndarray, predicted: np.ndarray, count: int = 36) -> bytes:
    """The first `count` misclassified examples in a grid, each titled 'true -> predicted'.

    The grid is one axes with an image per example: a subplot each took 0.7 s to draw, this 0.15 s."""
    wrong = np.flatnonzero(labels != predicted)[:count]
    columns = 6
    rows = max(1, -(-len(wrong) // columns))
    height, width = images.shape[1:3]
    cell_width, cell_height = 1.3 * width, 1.45 * height  # room for the gaps and the titles
    figure = Figure(figsize=(columns * 1.3, rows * 1.45))
    figure.suptitle(f"{np.sum(labels != predicted)} of {len(labels)} test examples misclassified (true -> predicted)")
    axes = figure.add_axes((0.02, 0.0, 0.96, 1 - 0.6 / (rows * 1.45)))  # the top 0.6 inch for the title
    for position, index in enumerate(wrong):
        row, column = divmod(position, columns)
        left, top = column * cell_width + (cell_width - width) / 2, row * cell_height + (cell_height - height)
        axes.imshow(np.squeeze(images[index]), cmap="gray_r", extent=(left, left + width, top + height, top))
        axes.text(
            left + width / 2,
            top - 2,
            f"{labels[index]} -> {predicted[index]}",
            ha="center",
            va="bottom",
            fontsize=10,
            color="firebrick",
        )
    axes.set_xlim(0, columns * cell_width)
    axes.set_ylim(rows * cell_height, 0)
    axes.axis("off")
    return png(figure)


def confusion_png(matrix: np.ndarray) -> bytes:
    """A confusion matrix with its counts, rows the true classes and columns the predicted ones."""
    classes = len(matrix)
    figure = Figure(figsize=(6.5, 5.5))
    axes = figure.add_subplot()
    shown = axes.imshow(np.log1p(matrix), cmap="Blues")
    figure.colorbar(shown, ax=axes, label="log(1 + count)")
    for true in range(classes):
        for guess in range(classes):
            dark = matrix[true, guess] > np.expm1(0.6 * np.log1p(matrix.max()))
            axes.text(
                guess,
                true,
                str(matrix[true, guess]),
                ha="center",
                va="center",
                fontsize=8,
                color="white" if dark else "black",
            )
    axes.set_xticks(range(classes))
    axes.set_yticks(range(classes))
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(f"confusion matrix: {np.trace(matrix)} of {matrix.sum()} right")
    return png(figure)


def curves_png(
    title: str, steps: np.ndarray, curves: dict, reference: tuple | None = None, bands: dict | None = None
) -> bytes:
    """Logged values over a run: each labelled curve of `curves`, with a band of plus or minus its standard
    error where `bands` has one, and a `reference` (label, values) dashed in black, such as 2 / learning rate
    beside the sharpness. A log scale where every value is positive."""
    figure = Figure(figsize=(7, 4))
    axes = figure.add_subplot()
    for label, values in curves.items():
        axes.plot(steps, values, marker="o", markersize=3, label=label)
        if bands and label in bands:
            axes.fill_between(steps, values - bands[label], values + bands[label], alpha=0.2)
    if reference is not None:
        axes.plot(steps, reference[1], linestyle="--", color="black", label=reference[0])
    everything = np.concatenate([*curves.values(), *([reference[1]] if reference else [])])
    axes.set_yscale("log" if np.all(everything > 0) else "symlog")
    axes.set_xlabel("step")
    axes.set_title(title)
    axes.legend(fontsize="small")
    return png(figure)
