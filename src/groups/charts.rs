//! Small server-rendered SVG charts of a group's public figures (no script, no chart library):
//! the geometry is computed here, the markup is the `pages/charts.html` macros. Every chart
//! carries its title and the same figures as rows, which the page shows as a visually hidden
//! table (the chart's text alternative).

use chrono::NaiveDate;

use super::dashboard::JoinStep;

/// Width of every chart's view box; the page scales it to the column.
const WIDTH: i64 = 320;

/// One row of a chart's text alternative.
#[derive(Debug, Clone)]
pub struct Row {
    /// What is counted.
    pub label: String,
    /// How many people.
    pub value: i64,
}

/// One bar of a [`BarChart`].
#[derive(Debug, Clone)]
pub struct Bar {
    /// The label above the bar.
    pub label: String,
    /// The figure after the bar.
    pub value: i64,
    /// Top of the label line.
    pub label_y: i64,
    /// Top of the bar.
    pub y: i64,
    /// Length of the bar.
    pub width: i64,
    /// Where the figure starts.
    pub value_x: i64,
}

/// A horizontal bar chart.
#[derive(Debug, Clone)]
pub struct BarChart {
    /// The element id of its title.
    pub id: &'static str,
    /// The title (and the table's caption).
    pub title: String,
    /// The heading of the label column of the text alternative.
    pub label_heading: String,
    /// The heading of the figure column.
    pub value_heading: String,
    /// The bars.
    pub bars: Vec<Bar>,
    /// The view box width.
    pub width: i64,
    /// The view box height.
    pub height: i64,
}

impl BarChart {
    /// A chart of `rows`, bars scaled to the largest figure.
    #[must_use]
    pub fn new(
        id: &'static str,
        title: String,
        headings: (String, String),
        rows: Vec<Row>,
    ) -> Self {
        const ROW: i64 = 40;
        const MAX_BAR: i64 = 250;
        let max = rows.iter().map(|r| r.value).max().unwrap_or(0).max(1);
        let bars = rows
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                let top = i64::try_from(i).unwrap_or(0) * ROW;
                let width = (r.value * MAX_BAR / max).max(2);
                Bar {
                    label_y: top + 13,
                    y: top + 18,
                    value_x: width + 6,
                    width,
                    label: r.label,
                    value: r.value,
                }
            })
            .collect::<Vec<_>>();
        let height = i64::try_from(bars.len()).unwrap_or(0) * ROW + 4;
        Self {
            id,
            title,
            label_heading: headings.0,
            value_heading: headings.1,
            bars,
            width: WIDTH,
            height,
        }
    }
}

/// One point of a [`LineChart`], with its row of the text alternative.
#[derive(Debug, Clone)]
pub struct Point {
    /// The day, as shown.
    pub label: String,
    /// The figure.
    pub value: i64,
}

/// A cumulative line over days.
#[derive(Debug, Clone)]
pub struct LineChart {
    /// The element id of its title.
    pub id: &'static str,
    /// The title (and the table's caption).
    pub title: String,
    /// The heading of the day column of the text alternative.
    pub label_heading: String,
    /// The heading of the figure column.
    pub value_heading: String,
    /// The `points` attribute of the polyline.
    pub polyline: String,
    /// The rows of the text alternative.
    pub points: Vec<Point>,
    /// The first day, under the left end.
    pub first: String,
    /// The last day, under the right end.
    pub last: String,
    /// The largest figure, at the top of the axis.
    pub max: i64,
    /// Where the baseline is.
    pub axis_y: i64,
    /// Where the day labels are.
    pub text_y: i64,
    /// The left and right ends of the plot.
    pub x: (i64, i64),
    /// The view box width.
    pub width: i64,
    /// The view box height.
    pub height: i64,
}

impl LineChart {
    /// The joins-over-time chart: from zero on `start` (the group's first day) up through
    /// `steps`. `None` without steps (too few people to show).
    #[must_use]
    pub fn joins(
        id: &'static str,
        title: String,
        headings: (String, String),
        start: NaiveDate,
        steps: &[JoinStep],
    ) -> Option<Self> {
        const LEFT: i64 = 8;
        const TOP: i64 = 22;
        const PLOT_W: i64 = WIDTH - 2 * LEFT;
        const PLOT_H: i64 = 110;
        let last_step = steps.last()?;
        // Everyone joined on one day: the line rises over the day before it.
        let start = start
            .min(steps[0].day)
            .min(last_step.day - chrono::Duration::days(1));
        let span = (last_step.day - start).num_days().max(1);
        let max = last_step.participants.max(1);
        let at = |day: NaiveDate, n: i64| {
            let x = LEFT + (day - start).num_days() * PLOT_W / span;
            let y = TOP + PLOT_H - n * PLOT_H / max;
            format!("{x},{y}")
        };
        let mut coords = vec![at(start, 0)];
        coords.extend(steps.iter().map(|s| at(s.day, s.participants)));
        Some(Self {
            id,
            title,
            label_heading: headings.0,
            value_heading: headings.1,
            polyline: coords.join(" "),
            points: steps
                .iter()
                .map(|s| Point {
                    label: s.day.to_string(),
                    value: s.participants,
                })
                .collect(),
            first: start.to_string(),
            last: last_step.day.to_string(),
            max: last_step.participants,
            axis_y: TOP + PLOT_H,
            text_y: TOP + PLOT_H + 20,
            x: (LEFT, LEFT + PLOT_W),
            width: WIDTH,
            height: TOP + PLOT_H + 24,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_joins_line_starts_at_zero_and_ends_top_right() {
        let d = |s: &str| s.parse::<NaiveDate>().expect("date");
        let steps = [
            JoinStep {
                day: d("2026-11-03"),
                participants: 5,
            },
            JoinStep {
                day: d("2026-11-11"),
                participants: 10,
            },
        ];
        let c = LineChart::joins(
            "j",
            "t".into(),
            ("a".into(), "b".into()),
            d("2026-11-01"),
            &steps,
        )
        .expect("chart");
        assert_eq!(c.polyline, "8,132 68,77 312,22");
        assert_eq!(c.max, 10);
        let one_day = [JoinStep {
            day: d("2026-11-03"),
            participants: 7,
        }];
        let c = LineChart::joins(
            "j",
            "t".into(),
            ("a".into(), "b".into()),
            d("2026-11-03"),
            &one_day,
        )
        .expect("chart");
        assert_eq!(
            (c.polyline.as_str(), c.first.as_str()),
            ("8,132 312,22", "2026-11-02")
        );
        assert!(
            LineChart::joins(
                "j",
                "t".into(),
                ("a".into(), "b".into()),
                d("2026-11-01"),
                &[]
            )
            .is_none()
        );
    }

    #[test]
    fn bars_scale_to_the_largest_figure() {
        let rows = vec![
            Row {
                label: "a".into(),
                value: 10,
            },
            Row {
                label: "b".into(),
                value: 5,
            },
        ];
        let c = BarChart::new("o", "t".into(), ("a".into(), "b".into()), rows);
        assert_eq!((c.bars[0].width, c.bars[1].width), (250, 125));
        assert_eq!(c.height, 84);
    }
}
