package handlers

import (
	"github.com/gofiber/fiber/v2"

	"github.com/backcare/backcare/models"
)

type questionnaireItemJSON struct {
	ID       string `json:"id"`
	Code     string `json:"code"`
	Min      int    `json:"min"`
	Max      int    `json:"max"`
	Text     string `json:"text"`
	MinLabel string `json:"min_label"`
	MaxLabel string `json:"max_label"`
}

type questionnaireJSON struct {
	ID         string                  `json:"id"`
	Title      string                  `json:"title"`
	Intro      string                  `json:"intro"`
	Items      []questionnaireItemJSON `json:"items"`
	Scoring    string                  `json:"scoring"`
	PanelCode  string                  `json:"panel_code"`
	ScoreCode  string                  `json:"score_code"`
	Meaningful struct {
		Percent float64 `json:"percent"`
		Source  string  `json:"source"`
	} `json:"meaningful_change"`
	Licence string `json:"licence"`
	Source  string `json:"source"`
}

// handleListQuestionnaires answers the questionnaire catalog in ?locale
// (BCP 47; English where there is no translation), so that the app draws
// each form from it.
func handleListQuestionnaires() fiber.Handler {
	return func(c *fiber.Ctx) error {
		if err := onlyQueryParams(c, "locale"); err != nil {
			return err
		}
		locale := c.Query("locale", models.DefaultLocale)
		if err := models.ValidateLocale(locale); err != nil {
			return invalid("locale", "must be a language tag such as en or de-AT")
		}
		items := make([]questionnaireJSON, len(models.Questionnaires))
		for i, q := range models.Questionnaires {
			j := questionnaireJSON{ID: q.ID, Title: models.Localized(q.Title, locale), Intro: models.Localized(q.Intro, locale),
				Scoring: string(q.Scoring), PanelCode: q.PanelCode, ScoreCode: q.ScoreCode, Licence: q.Licence, Source: q.Source}
			j.Meaningful.Percent, j.Meaningful.Source = q.Meaningful.Percent, q.Meaningful.Source
			for _, it := range q.Items {
				j.Items = append(j.Items, questionnaireItemJSON{ID: it.ID, Code: it.Code, Min: it.Min, Max: it.Max,
					Text: models.Localized(it.Text, locale), MinLabel: models.Localized(it.MinLabel, locale), MaxLabel: models.Localized(it.MaxLabel, locale)})
			}
			items[i] = j
		}
		c.Set(fiber.HeaderCacheControl, "public, max-age=3600")
		return c.JSON(fiber.Map{"items": items})
	}
}
