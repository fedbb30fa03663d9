package export

import (
	"net/url"
	"slices"
	"time"

	"github.com/backcare/backcare/models"
)

// The questionnaires of the bundle: a Questionnaire per instrument the
// patient answered, each answer as a QuestionnaireResponse to it, and the
// response's score as an Observation derived from the response, which is
// what a record system charts and compares.

const (
	systemUCUM = "http://unitsofmeasure.org"

	// R4 has no element for an integer question's range; these core
	// extensions, defined for Questionnaire.item, carry it.
	extensionMinValue = "http://hl7.org/fhir/StructureDefinition/minValue"
	extensionMaxValue = "http://hl7.org/fhir/StructureDefinition/maxValue"

	// unitScore is UCUM's annotation for a score, which has no unit.
	unitScore = "{score}"
)

// questionnaire is named by the instrument alone, not scoped by patient:
// every patient's export holds the same Questionnaire, with the same url,
// for the same form.
func (rs records) questionnaire(q models.Instrument) record {
	return record{rs.base + "/questionnaires", q.ID}
}

// response is scoped by patient, as a pain log is.
func (rs records) response(r models.QuestionnaireResponse) record {
	return record{rs.base + "/patients/" + url.PathEscape(rs.patientID) + "/questionnaire-responses", r.ClientID()}
}

// score names a response's score apart from the response itself.
func (rs records) score(r models.QuestionnaireResponse) record {
	return record{rs.base + "/patients/" + url.PathEscape(rs.patientID) + "/questionnaire-scores", r.ClientID()}
}

// questionnaireEntries returns a Questionnaire per instrument the live
// responses answer, in catalog order, then each live response, oldest
// first, followed by the Observation of its score. check has made sure
// that every live response answers an instrument of the catalog, and
// every one of its items.
func questionnaireEntries(rs records, responses []models.QuestionnaireResponse, subject reference, locale string, loc *time.Location) []bundleEntry {
	live := liveResponses(responses)
	var entries []bundleEntry
	for _, q := range models.Questionnaires {
		if slices.ContainsFunc(live, func(r models.QuestionnaireResponse) bool { return r.Questionnaire == q.ID }) {
			r := rs.questionnaire(q)
			entries = append(entries, bundleEntry{FullURL: r.fullURL(), Resource: questionnaireOf(q, r, locale)})
		}
	}
	for _, resp := range live {
		q, _ := models.LookupQuestionnaire(resp.Questionnaire)
		rr, sr := rs.response(resp), rs.score(resp)
		entries = append(entries,
			bundleEntry{FullURL: rr.fullURL(), Resource: responseOf(resp, q, rr, rs.questionnaire(q).name(), subject, locale, loc)},
			bundleEntry{FullURL: sr.fullURL(), Resource: scoreOf(resp, q, sr, subject, reference{Reference: rr.fullURL()}, loc)},
		)
	}
	return entries
}

// questionnaireOf turns an instrument into the Questionnaire its responses
// answer: the form coded in LOINC, and every item a required integer
// question of its range with its own LOINC code. Texts are in the
// patient's language where the catalog has it, as the app showed them.
func questionnaireOf(q models.Instrument, r record, locale string) questionnaire {
	res := questionnaire{
		ResourceType: "Questionnaire",
		ID:           r.id(),
		URL:          r.name(),
		Identifier:   r.identifier(),
		Title:        models.Localized(q.Title, locale),
		Status:       "active",
		SubjectType:  []string{"Patient"},
		Description:  models.Localized(q.Intro, locale),
		Copyright:    q.Licence + " " + q.Source,
		Code:         []coding{{System: systemLOINC, Code: q.PanelCode, Display: q.PanelDisplay}},
	}
	for _, it := range q.Items {
		res.Item = append(res.Item, questionnaireItem{
			Extension: []extension{{URL: extensionMinValue, ValueInteger: it.Min}, {URL: extensionMaxValue, ValueInteger: it.Max}},
			LinkID:    it.ID,
			Code:      []coding{{System: systemLOINC, Code: it.Code}},
			Text:      models.Localized(it.Text, locale),
			Type:      "integer",
			Required:  true,
		})
	}
	return res
}

// responseOf turns a response into a completed QuestionnaireResponse to
// the Questionnaire at form, its items in the form's order. The patient
// both answered it (source) and entered it (author), in the app.
func responseOf(resp models.QuestionnaireResponse, q models.Instrument, r record, form string, subject reference, locale string, loc *time.Location) questionnaireResponse {
	res := questionnaireResponse{
		ResourceType:  "QuestionnaireResponse",
		ID:            r.id(),
		Identifier:    r.identifier()[0],
		Questionnaire: form,
		Status:        "completed",
		Subject:       subject,
		Authored:      resp.AnsweredAt.In(loc).Format(time.RFC3339),
		Author:        subject,
		Source:        subject,
	}
	for _, it := range q.Items {
		res.Item = append(res.Item, responseItem{
			LinkID: it.ID,
			Text:   models.Localized(it.Text, locale),
			Answer: []responseAnswer{{ValueInteger: resp.Answers[it.ID]}},
		})
	}
	return res
}

// scoreOf turns a response's score into a patient-reported Observation
// coded as the instrument's score, derived from the QuestionnaireResponse
// at response. The score is the server's, stored with the response: the
// one the app showed.
func scoreOf(resp models.QuestionnaireResponse, q models.Instrument, r record, subject, response reference, loc *time.Location) scoreObservation {
	return scoreObservation{
		observationHead: surveyHead(r, codeableConcept{Coding: []coding{{System: systemLOINC, Code: q.ScoreCode, Display: q.ScoreDisplay}}},
			subject, resp.AnsweredAt.In(loc)),
		ValueQuantity: quantity{Value: resp.Score, Unit: unitScore, System: systemUCUM, Code: unitScore},
		DerivedFrom:   []reference{response},
	}
}
