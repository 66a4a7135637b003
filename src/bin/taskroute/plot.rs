//! The cost-quality plot (SVG, plotters' SVG backend; text is emitted as SVG `<text>`, so no
//! system fonts are needed to render it).

use std::path::Path;

use plotters::prelude::*;
use taskroute::eval::metrics::Point;

use crate::CliError;

const COLOURS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
];

/// Draws every policy's curve (mean cost per prompt in m$, log scale, against mean quality),
/// the single models, the zero router's hull, the oracle and the random router.
pub(crate) fn write_svg(
    path: &Path,
    title: &str,
    curves: &[(&str, Vec<Point>)],
    singles: &[(String, Point)],
    zero: &[Point],
    oracle: Point,
    random: Point,
) -> Result<(), CliError> {
    // The range covers the baselines; curve points far cheaper than every model (a quality-first
    // ceiling below every candidate: nothing routed) are left out.
    let all = singles
        .iter()
        .map(|(_, p)| p)
        .chain([&oracle, &random])
        .filter(|p| p.cost > 0.0);
    let (mut lo, mut hi, mut qlo) = (f64::INFINITY, 0.0f64, 1.0f64);
    for p in all {
        lo = lo.min(p.cost * 1e3);
        hi = hi.max(p.cost * 1e3);
        qlo = qlo.min(p.quality);
    }
    if !(lo.is_finite() && hi > 0.0) {
        return Err(CliError::msg("nothing to plot: every point has zero cost"));
    }
    let (lo, hi) = (lo / 2.0, hi * 2.0);
    for p in curves
        .iter()
        .flat_map(|(_, p)| p.iter())
        .filter(|p| p.cost * 1e3 >= lo)
    {
        qlo = qlo.min(p.quality);
    }
    let qlo = (qlo - 0.05).max(0.0);
    let err = |e: &dyn std::fmt::Display| CliError::msg(format!("cannot draw {}: {e}", path.display()));
    let root = SVGBackend::new(path, (960, 640)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d((lo..hi).log_scale(), qlo..1.0)
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_labels(10)
        .x_label_formatter(&|x| format!("{x:.3}"))
        .y_label_formatter(&|y| format!("{y:.2}"))
        .x_desc("mean cost per prompt (m$, log scale)")
        .y_desc("mean quality")
        .draw()
        .map_err(|e| err(&e))?;
    let clip = |p: &Point| (p.cost.max(lo / 1e3) * 1e3, p.quality);
    for (i, (name, pts)) in curves.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let mut sorted: Vec<(f64, f64)> = pts.iter().filter(|p| p.cost * 1e3 >= lo).map(clip).collect();
        sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
        chart
            .draw_series(LineSeries::new(sorted.clone(), colour.stroke_width(2)))
            .map_err(|e| err(&e))?
            .label(*name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2)));
        chart
            .draw_series(sorted.iter().map(|&p| Circle::new(p, 2, colour.filled())))
            .map_err(|e| err(&e))?;
    }
    let grey = RGBColor(90, 90, 90);
    chart
        .draw_series(LineSeries::new(
            densify(zero).iter().filter(|p| p.cost * 1e3 >= lo).map(clip),
            ShapeStyle::from(&grey).stroke_width(1),
        ))
        .map_err(|e| err(&e))?
        .label("zero router (hull of single models)")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], grey));
    chart
        .draw_series(singles.iter().filter(|(_, p)| p.cost > 0.0).map(|(name, p)| {
            let short = name.rsplit('/').next().unwrap_or(name).to_owned();
            EmptyElement::at(clip(p))
                + Cross::new((0, 0), 4, grey.stroke_width(2))
                + Text::new(short, (5, -12), ("sans-serif", 11).into_font().color(&grey))
        }))
        .map_err(|e| err(&e))?;
    let red = RGBColor(214, 39, 40);
    chart
        .draw_series(std::iter::once(TriangleMarker::new(
            clip(&oracle),
            7,
            red.filled(),
        )))
        .map_err(|e| err(&e))?
        .label("oracle")
        .legend(move |(x, y)| TriangleMarker::new((x + 10, y), 5, red.filled()));
    let black = RGBColor(0, 0, 0);
    chart
        .draw_series(std::iter::once(Rectangle::new(
            [
                (clip(&random).0 / 1.04, random.quality - 0.004),
                (clip(&random).0 * 1.04, random.quality + 0.004),
            ],
            black.filled(),
        )))
        .map_err(|e| err(&e))?
        .label("random")
        .legend(move |(x, y)| Rectangle::new([(x + 6, y - 4), (x + 14, y + 4)], black.filled()));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

/// The hull's straight segments (in linear cost) as many points, so they draw true on a log axis.
fn densify(hull: &[Point]) -> Vec<Point> {
    let mut out: Vec<Point> = Vec::new();
    for w in hull.windows(2) {
        for i in 0..50 {
            let t = f64::from(i) / 50.0;
            out.push(Point::new(
                w[0].cost + t * (w[1].cost - w[0].cost),
                w[0].quality + t * (w[1].quality - w[0].quality),
            ));
        }
    }
    out.extend(hull.last().copied());
    out
}
